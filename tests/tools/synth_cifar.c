/* tests/tools/synth_cifar.c: writes small-but-valid synthetic CIFAR-10 files
 * (official binary layout, full size so the loader's checks pass) whose
 * classes are learnable: each class has its own colour bias and stripe
 * direction, plus noise. Deterministic from the seed.
 *   synth_cifar OUT_DIR [seed] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RECORD 3073
#define PER_FILE 10000

static uint64_t rng_state;
static uint32_t next_u32(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

static int write_file(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); return -1; }
    static unsigned char rec[RECORD];
    for (int i = 0; i < PER_FILE; i++) {
        int label = (int)(next_u32() % 10);
        rec[0] = (unsigned char)label;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++) {
                    int bias = ((label + c) % 3) * 60 + 40;
                    int stripe = (label < 5 ? (x / 4) % 2 : (y / 4) % 2) * 50;
                    int v = bias + stripe + (int)(next_u32() % 60) - 30;
                    rec[1 + c * 1024 + y * 32 + x] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
        if (fwrite(rec, 1, RECORD, f) != RECORD) { perror(path); fclose(f); return -1; }
    }
    return fclose(f);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: synth_cifar OUT_DIR [seed]\n"); return 2; }
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 42;
    mkdir(argv[1], 0755);
    const char *names[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                           "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};
    for (int i = 0; i < 6; i++)
        if (write_file(argv[1], names[i])) return 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/batches.meta.txt", argv[1]);
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); return 1; }
    fputs("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n", f);
    return fclose(f) ? 1 : 0;
}
