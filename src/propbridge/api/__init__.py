"""HTTP plumbing shared by every domain: errors, list conventions, the request's database."""
