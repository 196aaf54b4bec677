"""Shared Alembic environment: runs migrations on the engine the caller put in config.attributes."""

from alembic import context


def run(target_metadata) -> None:
    engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          version_table=context.config.attributes["version_table"])
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
