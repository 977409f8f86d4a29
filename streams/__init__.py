"""The streaming shell: Faust app, topics, codecs and agents (built on the pure core in rater/)."""
