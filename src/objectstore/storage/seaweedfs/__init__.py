"""SeaweedFS blob store: blobs as chunk lists of SeaweedFS needles, replicated by SeaweedFS."""
