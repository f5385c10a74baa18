#!/bin/sh
# Serves /srv/www on $PORT with busybox httpd: static files, CGI scripts under /cgi-bin, and /health.
set -eu
port="${PORT:-8080}"
name="${SERVICE_NAME:-service}"
printf '{"service":"%s","status":"UP"}\n' "$name" >/srv/www/health
echo "$name listening on :$port" >&2
if [ -f /etc/httpd.conf ]; then
  exec httpd -f -v -p "$port" -h /srv/www -c /etc/httpd.conf
fi
exec httpd -f -v -p "$port" -h /srv/www
