"""OmniMediaTrak's GraphQL application."""
