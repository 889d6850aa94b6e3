"""OmniMediaTrak's data library: models, batch queries, ingestion. Never imports the GraphQL layer."""
