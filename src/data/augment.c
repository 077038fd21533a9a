/* augment.c: the seed's per-image training transform on one image of any
 * shape, uint8 CHW in, normalised float CHW out:
 *   RandomCrop((h, w), padding=4) -> RandomHorizontalFlip -> ToTensor -> Normalize
 * with the random choices (crop offset, flip) passed in, so the caller owns
 * the RNG. Not here: choosing the offsets (loader.c), batching.
 *
 * Precision follows torchvision exactly (torchvision/transforms/functional.py):
 * padding is applied to the uint8 image, so padded pixels are 0 and become
 * (0 - mean) / std; to_tensor does img.float().div(255) in float32; normalize
 * does tensor.sub_(mean).div_(std) with float32 mean and std. We do the same
 * three float32 operations in the same order (true division, no reciprocal;
 * the build never uses -ffast-math), so every value is bit-identical to
 * PyTorch's (tests/test_data.c checks against a torch fixture). */
#include "lrlab/data.h"

const data_norm cifar10_norm = {{0.4914f, 0.4822f, 0.4465f}, {0.2023f, 0.1994f, 0.2010f}};

float augment_value(const data_norm *nm, int c, uint8_t v) {
    float x = (float)v / 255.0f;
    x = x - nm->mean[c];
    return x / nm->std[c];
}

void augment_image(float *out, const uint8_t *img, int C, int H, int W, const data_norm *nm, int dy, int dx,
                   int flip) {
    if (dy < 0) dy = 0;
    if (dy > 8) dy = 8;
    if (dx < 0) dx = 0;
    if (dx > 8) dx = 8;
    for (int c = 0; c < C; c++) {
        const uint8_t *plane = img + (size_t)c * H * W;
        float *o = out + (size_t)c * H * W;
        const float mean = nm->mean[c], std = nm->std[c];
        const float pad = (0.0f - mean) / std;
        for (int y = 0; y < H; y++) {
            int sy = y + dy - 4; /* row in the unpadded image */
            float *orow = o + (size_t)y * W;
            if (sy < 0 || sy >= H) {
                for (int x = 0; x < W; x++) orow[x] = pad;
                continue;
            }
            const uint8_t *row = plane + (size_t)sy * W;
            for (int x = 0; x < W; x++) {
                int cx = flip ? W - 1 - x : x; /* flip acts on the cropped image */
                int sx = cx + dx - 4;
                if (sx < 0 || sx >= W) {
                    orow[x] = pad;
                } else {
                    float v = (float)row[sx] / 255.0f;
                    orow[x] = (v - mean) / std;
                }
            }
        }
    }
}
