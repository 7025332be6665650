"""Schemathesis hooks of the black-box test `schemathesis`
(tests/blackbox/schemathesis.rs sets SCHEMATHESIS_HOOKS to this module).

The body of a tus PATCH is raw bytes of the protocol's own media type,
`application/offset+octet-stream`: schemathesis sends it as it sends any
octet stream.
"""

import schemathesis

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
