// Guard for the pure C++ core: the core never sees PostgreSQL headers, so it
// can be unit-tested and reused by the worker without a server.
#pragma once

#ifdef POSTGRES_H
#error "elicense core headers must not be compiled together with PostgreSQL headers"
#endif
