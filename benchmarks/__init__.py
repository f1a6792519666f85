"""Benchmarks: ``python -m benchmarks`` (see benchmarks/README.md). Not a test suite."""


async def fresh_database(url: str, name: str) -> None:
    """Drop and create database ``name`` on the server of ``url`` (a plain postgresql:// URL
    naming that database)."""
    import asyncpg

    admin = await asyncpg.connect(url.replace(f"/{name}?", "/postgres?", 1))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
