"""Assessment: validates grade submissions from LMSs and keeps the authoritative record of grades."""
