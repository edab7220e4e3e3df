"""A minimal Python gateway doing the same work as the Swift gateway's POST /queries, for `make bench` only.

Per request: verify the RS256 bearer JWT (PyJWT + cryptography: signature, kid, exp required, iss, aud,
30 s leeway, sub, tier claim), read the JSON body (1 MiB cap, application/json only), drop client-supplied
identity fields, apply the schema defaults, validate against the same JSON Schema file the Swift gateway
bundles (jsonschema, Draft 2020-12), produce a QueryEvent with the trusted identity headers to rag.queries
(confluent-kafka: acks=all, idempotent producer, linger.ms=1, delivery.timeout.ms=5000 — the Swift
gateway's settings) and answer 202 {query_id, results_url} only after the delivery report says the broker
acknowledged the record; 503 if it did not. Not done here: the per-user rate limiter and Idempotency-Key
(the Swift gateway's limiter is set so high in the bench that it never limits).

One process runs one asyncio event loop; run several with --reuse-port on the same port to use more cores.

    python3 gateway.py --port 8090 --bootstrap HOST:PORT --public-key PEM --schema query-request.v1.json \
        [--kid dev-rs256] [--issuer kafka-rag-dev] [--audience kafka-rag] [--reuse-port]

GET /healthz answers 200 once the producer has fetched the cluster's metadata.
"""
import argparse
import asyncio
import json
import os
import secrets
import threading
import uuid

import jwt
from aiohttp import web
from confluent_kafka import KafkaException, Producer
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jsonschema import Draft202012Validator

TIERS = {"free", "standard", "enterprise"}
# The same set the Swift gateway drops before validation (GatewayAPI.identityFields).
IDENTITY_FIELDS = {"user_id", "user-id", "userId", "user_tier", "user-tier", "userTier", "tenant", "tier"}
MAX_BODY_BYTES = 1 << 20
DELIVERY_TIMEOUT_S = 5.0


def problem(status, code, detail, violations=None, headers=None):
    body = {"type": f"https://kafka-rag.dev/problems/{code}", "title": code, "status": status, "code": code, "detail": detail}
    if violations:
        body["violations"] = violations
    return web.Response(status=status, text=json.dumps(body), content_type="application/problem+json", headers=headers)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--reuse-port", action="store_true", help="SO_REUSEPORT, so several processes share the port")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--kid", default=None, help="kid tokens must name (like RAG_JWT_KEY_ID)")
    parser.add_argument("--schema", required=True)
    parser.add_argument("--topic", default="rag.queries")
    parser.add_argument("--issuer", default="kafka-rag-dev")
    parser.add_argument("--audience", default="kafka-rag")
    args = parser.parse_args()

    with open(args.public_key, "rb") as file:
        public_key = load_pem_public_key(file.read())  # parsed once, not per request
    with open(args.schema) as file:
        schema = json.load(file)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    defaults = {name: spec["default"] for name, spec in schema.get("properties", {}).items() if "default" in spec}

    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "client.id": f"python-gateway-{os.getpid()}",
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 1,
        "delivery.timeout.ms": int(DELIVERY_TIMEOUT_S * 1000),
    })
    running = threading.Event()
    running.set()

    def serve_delivery_reports():
        # Delivery callbacks run on this thread; poll() releases the GIL while it waits.
        while running.is_set():
            producer.poll(0.1)

    async def producer_lifecycle(app):
        thread = threading.Thread(target=serve_delivery_reports, name="kafka-poll", daemon=True)
        thread.start()
        yield
        running.clear()
        thread.join()
        producer.flush(5)

    async def healthz(request):
        try:
            await asyncio.to_thread(producer.list_topics, args.topic, 1.0)
        except KafkaException as error:
            return problem(503, "not_ready", str(error))
        return web.json_response({"status": "ok"})

    async def produce(loop, key, value, headers):
        """Hands one record to librdkafka and waits for its delivery report; returns the error or None."""
        future = loop.create_future()

        def delivered(error, message):
            def settle():
                if not future.done():
                    future.set_result(error)
            loop.call_soon_threadsafe(settle)

        deadline = loop.time() + DELIVERY_TIMEOUT_S
        while True:
            try:
                producer.produce(args.topic, key=key, value=value, headers=headers, on_delivery=delivered)
                break
            except BufferError:  # local queue full: let deliveries drain it, like the Swift producer
                if loop.time() >= deadline:
                    return "local queue full"
                await asyncio.sleep(0.005)
        return await future

    async def post_query(request):
        # 1. Identity, from the verified token only.
        parts = request.headers.get("Authorization", "").split(" ", 1)
        if len(parts) != 2 or parts[0].lower() != "bearer" or not parts[1]:
            return problem(401, "missing_token", "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        token = parts[1]
        try:
            if args.kid is not None and jwt.get_unverified_header(token).get("kid") != args.kid:
                return problem(401, "unknown_key", "the token's kid names no known key")
            claims = jwt.decode(token, public_key, algorithms=["RS256"], audience=args.audience, issuer=args.issuer,
                                leeway=30, options={"require": ["exp", "sub"]})
        except jwt.PyJWTError as error:
            return problem(401, "invalid_token", str(error))
        tier = claims.get("tier")
        if isinstance(tier, list) and len(tier) == 1:
            tier = tier[0]
        if tier not in TIERS:
            return problem(403, "unknown_tier", "the tier claim does not name one known tier")
        tenant = claims.get("tenant") or "default"

        # 2. The body: JSON, identity fields dropped, defaults applied, validated against the schema.
        if request.content_type != "application/json":
            return problem(415, "unsupported_media_type", "application/json expected")
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return problem(413, "body_too_large", "the body is too large")
        try:
            body = json.loads(await request.read())
        except web.HTTPRequestEntityTooLarge:
            return problem(413, "body_too_large", "the body is too large")
        except ValueError as error:
            return problem(400, "invalid_json", str(error))
        if isinstance(body, dict):
            body = {**defaults, **{key: value for key, value in body.items() if key not in IDENTITY_FIELDS}}
        violations = [{"pointer": "/" + "/".join(map(str, error.absolute_path)), "keyword": error.validator, "message": error.message}
                      for error in validator.iter_errors(body)]
        if violations:
            return problem(400, "schema_violation", "the body does not match the schema", violations)

        # 3. Produce with the trusted headers; 202 only once the broker has acknowledged (acks=all).
        query_id = str(uuid.uuid4())
        request_id = str(uuid.uuid4())
        event = {"query_id": query_id, "question": body["question"], "top_k": body["top_k"], "stream": body["stream"]}
        headers = [
            ("user-id", claims["sub"]), ("user-tier", tier), ("tenant", tenant), ("request-id", request_id),
            ("traceparent", f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"), ("schema-version", "1"),
        ]
        error = await produce(asyncio.get_running_loop(), query_id, json.dumps(event, separators=(",", ":")).encode(), headers)
        if error is not None:
            return problem(503, "broker_unavailable", str(error), headers={"Retry-After": "5"})
        return web.json_response({"query_id": query_id, "results_url": f"/results/{query_id}"}, status=202,
                                 headers={"X-Request-Id": request_id})

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.cleanup_ctx.append(producer_lifecycle)
    app.router.add_post("/queries", post_query)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host=args.host, port=args.port, reuse_port=args.reuse_port or None, access_log=None, print=None)


if __name__ == "__main__":
    main()
