#!/usr/bin/env bash
# Make sure a Redis server answers on 127.0.0.1:6379 for the tests, starting one if Redis is
# installed but not running. Prints which backend the tests will use.
set -u
answers() { (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && read -r -t 1 reply <&3 && [[ "$reply" == +PONG* ]]) 2>/dev/null; }
if answers; then
  echo "Redis: reachable on 127.0.0.1:6379"
  exit 0
fi
if command -v redis-server >/dev/null 2>&1; then
  redis-server --bind 127.0.0.1 --port 6379 --save "" --appendonly no --daemonize yes >/dev/null 2>&1 || true
  for _ in $(seq 1 20); do
    answers && { echo "Redis: started on 127.0.0.1:6379"; exit 0; }
    sleep 0.25
  done
fi
echo "Redis: not available; the Redis tests will be skipped"
exit 1
