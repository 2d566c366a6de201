# A console-socket receiver for the differential harness's terminal cases: listens on argv[1],
# takes the pty master a runtime sends (SCM_RIGHTS), and copies what the container writes to
# argv[2] until the last slave closes (EIO) or the output ends.
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
print('ready', flush=True)
conn, _ = srv.accept()
_, fds, _, _ = socket.recv_fds(conn, 4096, 1)
conn.close()
srv.close()
with open(out, 'wb') as f:
    while True:
        try:
            data = os.read(fds[0], 65536)
        except OSError:
            break
        if not data:
            break
        f.write(data)
        f.flush()
