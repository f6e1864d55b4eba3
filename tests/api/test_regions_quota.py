"""/v2/regions, /v2/quota and /healthz."""

from __future__ import annotations

import pytest

from .conftest import assert_error

FEATURES = {"iaas", "kubernetes", "object_store", "loadbalancer", "dbaas", "volume", "paas",
            "kfaas", "public_ip_node_pools"}


def test_healthz(tenant):
    r = tenant.client().get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


@pytest.mark.parametrize("scheme", ["bearer", "Bearer"])
def test_regions(tenant, scheme):
    r = tenant.client(**tenant.auth(scheme)).get("/v2/regions")
    assert r.status_code == 200
    regions = r.json()
    assert isinstance(regions, list)
    assert [x["code"] for x in regions] == ["LON1", "NYC1", "FRA1", "PHX1"]
    for region in regions:
        assert set(region) >= {"code", "name", "type", "out_of_capacity", "country",
                               "country_name", "default", "features"}, region
        for key in ("code", "name", "type", "country", "country_name"):
            assert isinstance(region[key], str) and region[key], region
        assert type(region["out_of_capacity"]) is bool
        assert type(region["default"]) is bool
        assert set(region["features"]) >= FEATURES
        assert all(type(v) is bool for v in region["features"].values())
    assert [x["code"] for x in regions if x["default"]] == ["LON1"]
    by_code = {x["code"]: x for x in regions}
    assert by_code["PHX1"]["features"]["object_store"] is False
    for code in ("LON1", "NYC1", "FRA1"):
        assert by_code[code]["features"]["object_store"] is True
    assert (by_code["LON1"]["name"], by_code["LON1"]["country"],
            by_code["LON1"]["country_name"]) == ("London", "GB", "United Kingdom")


def test_regions_ignores_region_param(tenant):
    a = tenant.api.get("/v2/regions").json()
    assert tenant.api.get("/v2/regions", params={"region": "NYC1"}).json() == a
    assert tenant.api.get("/v2/regions/").json() == a


@pytest.mark.parametrize("path", ["/v2/regions", "/v2/quota"])
def test_auth_required(tenant, path):
    assert_error(tenant.client().get(path), 401, "database_account_not_found")
    assert_error(tenant.client(Authorization="bearer nope-nope").get(path), 401,
                 "database_account_not_found")


def test_quota(small):
    r = small.api.get("/v2/quota")
    assert r.status_code == 200
    q = r.json()
    assert (q["objectstore_gb_limit"], q["objectstore_gb_usage"]) == (1000, 0)
    assert type(q["objectstore_gb_limit"]) is int and type(q["objectstore_gb_usage"]) is int
    a = small.store(max_size_gb=300)
    small.store(max_size_gb=200, region="NYC1")
    small.cred()  # credentials take no quota
    q = small.api.get("/v2/quota", params={"region": "LON1"}).json()
    assert (q["objectstore_gb_limit"], q["objectstore_gb_usage"]) == (1000, 500)
    small.api.patch(f"/v2/objectstores/{a['id']}", json={"max_size_gb": 100})
    assert small.api.get("/v2/quota").json()["objectstore_gb_usage"] == 300
    small.api.delete(f"/v2/objectstores/{a['id']}")
    assert small.api.get("/v2/quota").json()["objectstore_gb_usage"] == 200


def test_quota_is_per_account(tenant, other, srv):
    tenant.store(max_size_gb=40)
    q = other.api.get("/v2/quota").json()
    assert q["objectstore_gb_usage"] == 0
    assert q["objectstore_gb_limit"] == srv.services.settings.account_quota_gb
    assert tenant.api.get("/v2/quota").json()["objectstore_gb_usage"] == 40
