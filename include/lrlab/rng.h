/* lrlab/rng.h: the explicit, seeded random number generator (xoshiro256**,
 * seeded through splitmix64). No global state: every consumer owns an
 * lr_rng. Streams are derived from (seed, stream, index) so that a stream
 * can be recreated at any point of a run without replaying the others:
 * data order for epoch e is rng_init(&r, seed, RNG_STREAM_ORDER, e), the
 * augmentation of batch b of epoch e is
 * rng_init(&r, seed, RNG_STREAM_AUGMENT, e * 1000003 + b). That makes a
 * resumed run, and a loader running on another thread, bit-identical. */
#ifndef LRLAB_RNG_H
#define LRLAB_RNG_H

#include <stdint.h>

enum { RNG_STREAM_INIT = 1, RNG_STREAM_ORDER = 2, RNG_STREAM_AUGMENT = 3, RNG_STREAM_SPLIT = 4,
       RNG_STREAM_SYNTH = 5, RNG_STREAM_DROPOUT = 6, RNG_STREAM_BOOTSTRAP = 7,
       RNG_STREAM_TUNE = 8, RNG_STREAM_TRANSFORM = 9,
       RNG_STREAM_ALT_FLIP = 10 };

typedef struct {
    uint64_t s[4];
} lr_rng;

void rng_init(lr_rng *r, uint64_t seed, uint64_t stream, uint64_t index);
uint64_t rng_next(lr_rng *r);
double rng_uniform(lr_rng *r);                 /* [0, 1), 53 random bits */
uint32_t rng_below(lr_rng *r, uint32_t n);     /* uniform in [0, n), unbiased; n >= 1 */
void rng_permutation(lr_rng *r, int *perm, int n); /* Fisher-Yates over 0..n-1 */

#endif
