def test_a_registered_tenant_can_be_read_back_after_its_position(client, tour):
    tenant = tour.tenant("school", name="Мектеп №7 — Қазақ тілі")
    response = client.get(f"/api/v1/tenants/{tenant['id']}", headers={**tour.operator, "X-Min-Position": tenant["position"]})
    assert response.status_code == 200
    assert response.get_json()["name"] == "Мектеп №7 — Қазақ тілі"
