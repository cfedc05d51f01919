// OpenSSL's libcrypto (Debian libssl-dev), for message digests only: its SHA-256 uses the CPU's SHA extensions
// (about 1.8 GB/s here, against 0.3 GB/s for portable code), which keeps hashing out of a conversion's time.
#include <openssl/evp.h>
