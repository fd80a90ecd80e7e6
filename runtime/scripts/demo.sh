#!/bin/sh
# Runs INSIDE the demo container (make run): prints what isola-runtime isolated.
echo "== inside the container =="
echo "hostname      : $(hostname)        (the host calls itself: $HOST_HOSTNAME)"
echo "my pid        : $$               (PID 1 of a new PID namespace)"
echo "processes     :"; ps -o pid,user,args | sed 's/^/    /'
echo "ids           : $(id)"
echo "capabilities  : $(grep CapEff /proc/self/status | tr -s '\t' ' ')   (only KILL, NET_BIND_SERVICE, AUDIT_WRITE)"
echo "no_new_privs  : $(grep NoNewPrivs /proc/self/status | cut -f2)    seccomp mode: $(grep '^Seccomp:' /proc/self/status | cut -f2) (2 = filter)"
echo "network       : $(ls /sys/class/net | tr '\n' ' ')  (a new network namespace: loopback only)"
if touch /probe 2>/dev/null; then echo "root fs       : WRITABLE"; else echo "root fs       : read-only (touch /probe: refused)"; fi
echo "masked        : /proc/keys reads $(wc -c < /proc/keys) bytes, /sys/firmware has $(ls /sys/firmware | wc -l) entries"
echo "namespaces    :"; for n in pid mnt uts ipc net cgroup; do echo "    $n -> $(readlink /proc/self/ns/$n)"; done
echo "mounts        :"; sed 's/^/    /' /proc/mounts
