"""What the sync's encrypted columns are bound to: the associated data of their AES-GCM
ciphertexts (``services.core.crypto``), so that one column's ciphertext cannot be passed
off as another's. Apart from the models, for the preparing processes (``services.worker.
preparing``), which encrypt without importing SQLAlchemy."""

RAW_AAD = b"dept_records.raw_enc"
QUARANTINE_AAD = b"sync_quarantine.raw_enc"
