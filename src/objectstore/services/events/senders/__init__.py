"""One sender per target type (webhook, amqp, nats, redis); ``base`` says what a sender is."""
