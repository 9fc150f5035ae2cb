"""The workspace: server-rendered pages for coordinators and programme staff. It keeps no
database: people, one-time sign-in links and sign-in sessions live in NATS key-value buckets,
and everything else is asked of the services' HTTP APIs on the signed-in person's behalf."""
