"""The fake SMS gateways check what the real ones check, and count what the network counts."""

from __future__ import annotations

import base64

import aiohttp

from testkit.fakes.sms import FakeAfricasTalking, FakeTwilio


async def test_the_fake_africas_talking_checks_the_api_key_and_username() -> None:
    async with FakeAfricasTalking() as gateway, aiohttp.ClientSession() as client:
        url = f"{gateway.base_url}/version1/messaging"
        form = {"username": "sandbox", "to": "+254700000001", "message": "Habari"}
        async with client.post(url, data=form, headers={"apiKey": "wrong"}) as response:
            assert response.status == 401
        async with client.post(url, data={**form, "username": "other"}, headers={"apiKey": gateway.secret}) as response:
            assert response.status == 400
        async with client.post(url, data=form, headers={"apiKey": gateway.secret}) as response:
            body = await response.json()
            assert response.status == 201
        (recipient,) = body["SMSMessageData"]["Recipients"]
        assert recipient["statusCode"] == 101 and recipient["messageId"] == gateway.sent[0].message_id
        assert gateway.user("+254700000001").messages[0].text == "Habari"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_the_fake_twilio_checks_basic_auth_and_counts_segments() -> None:
    async with FakeTwilio() as gateway, aiohttp.ClientSession() as client:
        url = f"{gateway.base_url}/2010-04-01/Accounts/{gateway.account}/Messages.json"
        form = {"To": "+254700000001", "From": str(gateway.sender), "Body": "L'enquête " * 10}
        async with client.post(url, data=form, headers=basic(gateway.account, "wrong")) as response:
            assert response.status == 401 and (await response.json())["code"] == 20003
        async with client.post(url, data=form, headers=basic(gateway.account, gateway.secret)) as response:
            body = await response.json()
        assert body["num_segments"] == "2" and gateway.sent[0].encoding == "UCS-2"
        assert gateway.most_in_one_second() == 2 and gateway.most_in_one_second(segments=False) == 1
