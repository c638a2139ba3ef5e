"""Several app processes behind a real proxy (`python -m moodmusic deploy local`).

`local.LocalDeploy` starts N `streamlit run app.py` replicas on loopback and
HAProxy in front with cookie affinity and health checks, supervises them and
stops them all; `haproxy` renders the proxy's configuration and reads its
state; `process` starts a child tied to the deploy. docs/deploy.md has the
architecture beyond one machine.
"""
