-- wrk script: POST /queries with a bearer token read from the TOKEN environment variable.
wrk.method = "POST"
wrk.body = '{"question": "What is the best way to learn Spanish quickly online?", "top_k": 5}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
