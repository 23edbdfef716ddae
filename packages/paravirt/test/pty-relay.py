# A stand-in for a serial line in tests: a pseudo-terminal in raw mode whose
# slave side is a character device the agent opens like /dev/virtio-ports/X,
# and whose master side is relayed to one client of a Unix socket (the "guest").
# Prints the slave path, then relays until killed.
import os, select, socket, sys, tty

path = sys.argv[1]
master, slave = os.openpty()
tty.setraw(slave)
tty.setraw(master)
name = os.ttyname(slave)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(4)
print(name, flush=True)
conn = None
while True:
    fds = [master, srv] + ([conn] if conn else [])
    r, _, _ = select.select(fds, [], [])
    if srv in r:
        if conn:
            conn.close()
        conn, _ = srv.accept()
    if master in r:
        data = os.read(master, 65536)
        if conn:
            conn.sendall(data)
    if conn and conn in r:
        data = conn.recv(65536)
        if not data:
            conn.close()
            conn = None
        else:
            os.write(master, data)
