"""The configuration in force: the configuration store, the topics, and the ways provisioning changes it."""
