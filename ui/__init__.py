"""Streamlit pages and their small rendering helpers; all logic lives in rag/ and ingest/."""
