# The standalone cluster's master and workers (tests/cluster/standalone.py), as spark-defaults.conf here.
export SPARK_DAEMON_JAVA_OPTS="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
