"""A minimal Python gateway doing the same work as POST /queries, for `make bench` comparison only.

Verifies an RS256 JWT (PyJWT + cryptography), validates the body against the same JSON Schema file
(jsonschema), produces a QueryEvent with the trusted identity headers to Kafka with acks=all and the
idempotent producer (confluent-kafka), and answers 202 only after the broker acknowledged the record.

    python3 gateway.py --port 8090 --bootstrap HOST:PORT --public-key PEM --schema query-request.v1.json
"""
import argparse
import asyncio
import json
import threading
import uuid

import jwt
from aiohttp import web
from confluent_kafka import Producer
from jsonschema import Draft202012Validator

TIERS = {"free", "standard", "enterprise"}


def problem(status, code, detail, violations=None):
    body = {"type": f"https://kafka-rag.dev/problems/{code}", "title": code, "status": status, "detail": detail}
    if violations:
        body["violations"] = violations
    return web.json_response(body, status=status, content_type="application/problem+json")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--topic", default="rag.queries")
    parser.add_argument("--issuer", default="rag-dev")
    parser.add_argument("--audience", default="rag-gateway")
    args = parser.parse_args()

    public_key = open(args.public_key).read()
    validator = Draft202012Validator(json.load(open(args.schema)))
    producer = Producer({"bootstrap.servers": args.bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5})

    running = True

    def serve_delivery_reports():
        while running:
            producer.poll(0.1)

    async def poll_thread(app):
        nonlocal running
        thread = threading.Thread(target=serve_delivery_reports, daemon=True)
        thread.start()
        yield
        running = False
        thread.join()
        producer.flush(5)

    async def post_query(request):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return problem(401, "missing_token", "a bearer token is required")
        try:
            claims = jwt.decode(header[7:], public_key, algorithms=["RS256"], audience=args.audience, issuer=args.issuer, leeway=30)
        except jwt.PyJWTError as error:
            return problem(401, "invalid_token", str(error))
        tier = claims.get("tier")
        if tier not in TIERS:
            return problem(403, "unknown_tier", "unknown tier")
        if request.content_type != "application/json":
            return problem(415, "unsupported_media_type", "application/json expected")
        try:
            body = json.loads(await request.read())
        except ValueError as error:
            return problem(400, "invalid_json", str(error))
        for field in ("user_id", "user_tier", "tenant"):
            body.pop(field, None) if isinstance(body, dict) else None
        errors = [{"pointer": "/" + "/".join(map(str, e.absolute_path)), "message": e.message} for e in validator.iter_errors(body)]
        if errors:
            return problem(400, "schema_violation", "the body does not match the schema", errors)
        query_id = str(uuid.uuid4())
        event = {"query_id": query_id, "question": body["question"], "top_k": body.get("top_k", 5), "stream": body.get("stream", False)}
        future = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()

        def delivered(error, message):
            loop.call_soon_threadsafe(future.set_result, error)

        producer.produce(args.topic, key=query_id, value=json.dumps(event).encode(), on_delivery=delivered, headers=[
            ("user-id", claims["sub"]), ("user-tier", tier), ("tenant", claims.get("tenant", "default")),
            ("request-id", str(uuid.uuid4())), ("schema-version", "1")])
        error = await future
        if error is not None:
            return problem(503, "broker_unavailable", str(error))
        return web.json_response({"query_id": query_id, "results_url": f"/results/{query_id}"}, status=202)

    app = web.Application()
    app.cleanup_ctx.append(poll_thread)
    app.router.add_post("/queries", post_query)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
