#!/bin/sh
# The registry's HTTP interface on :8761, served by busybox httpd.
set -eu
echo '{"status":"UP"}' >/srv/www/eureka/status
echo "registry listening on :8761" >&2
exec httpd -f -v -p 8761 -h /srv/www
