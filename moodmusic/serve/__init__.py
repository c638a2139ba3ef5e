"""The REST API: a thin HTTP adapter over `analysis` and `music` (`python -m moodmusic serve`).

`app.create_app()` builds the FastAPI app from the settings; `limits` holds
what protects the server (upload size, analyses at once); `logs` writes one
JSON object per line. Only this package and `commands/serve.py` import
FastAPI, Starlette and uvicorn (tests/test_layers.py).
"""
