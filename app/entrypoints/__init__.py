"""The program's ways in: the HTTP app (http/), the server (server/), `pkgctl` (cli/). The
parts they serve are put together in one place, composition/."""
