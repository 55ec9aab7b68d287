# Shared by test_paho.sh and test_paho_cluster.sh; source after lib.sh or
# cluster_lib.sh.
#
# paho_python: a python3 that imports paho.mqtt (Debian's python3-paho-mqtt
# lives in /usr/lib/python3/dist-packages, seen by /usr/bin/python3 but not by
# a python3 of pyenv or a venv that may come first on PATH).
paho_python() {
    local py
    for py in /usr/bin/python3 python3; do
        if "$py" -c 'import paho.mqtt.client' 2>/dev/null; then
            echo "$py"
            return 0
        fi
    done
    return 1
}

# The server configuration the scenarios need, appended to a node's file:
# subscribe_failure needs a filter the rules deny (user paho-nosub may not
# subscribe outside paho/#), server_keep_alive a keepalive_max of 60 s
# (--server-keepalive), maximum_packet_size a Maximum Packet Size below
# 65535 (the oversized publish part runs only then, as in the Paho suite).
# User paho (every other client) may publish and subscribe anywhere,
# including $paho/# for dollar_topics.
paho_config() {
    cat <<'YAML'
limits:
  keepalive_max: 60
  max_packet_size: 10000
authorization:
  enabled: true
  rules:
    - principals:
        usernames: [paho]
      brokerResources:
        - method: Connect
        - method: Publish
          topics: ["#", "$paho/#"]
        - method: Subscribe
          topics: ["#", "$paho/#"]
    - principals:
        usernames: [paho-nosub]
      brokerResources:
        - method: Connect
        - method: Publish
          topics: ["paho/#"]
        - method: Subscribe
          topics: ["paho/#"]
YAML
}

PAHO_INTEROP="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/paho_interop.py"
