"""Page components shared by the live page and the other pages (the only streamlit users besides app.py and pages/)."""
