#!/bin/sh
# As root: give the data folder to redis and start again as redis (gosu).
set -e

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec gosu redis "$0" "$@"
fi

# Without a configuration file, serve every interface of the container.
if [ "$1" = 'redis-server' ] && [ "$#" -eq 1 ]; then
	set -- "$@" --protected-mode no
fi

exec "$@"
