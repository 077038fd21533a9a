/* tests/test_model.c: model descriptions as graphs. (1) The parser: blocks,
 * repeat, in=, add, every layer kind's shapes and tensors, and its errors
 * (each names the file and line, and says what was expected); the shipped
 * models' parameter counts. (2) Tools for tests/model_torch_test.sh:
 *   test_model --list MODEL            every tensor: "name buffer d0 d1 ..."
 *   test_model --run MODEL IN.safetensors [ref|dnnl] [train|eval]
 *       loads the tensors and a batch (input.x, input.y) from IN, runs one
 *       training-mode forward and backward through the reference executor
 *       (or the oneDNN one: dnnl) (mean cross-entropy) and prints "logits v...", "grad NAME v..." and
 *       the updated buffers "buffer NAME v..." for PyTorch to compare;
 *       eval: one eval-mode forward pass, its loss and logits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lrlab/model.h"
#include "lrlab/net.h"
#include "lrlab/optim.h"
#include "lrlab/safetensors.h"
#include "test.h"

static model_spec M; /* large: not on the stack */

static const char *const search[] = {"models", NULL};

static void parses(const char *what, const char *text, long params, long buffers, int layers) {
    lr_error err = {{0}};
    int rc = model_spec_parse(&M, text, what, &err);
    CHECK(rc == 0, "%s: %s", what, err.msg);
    if (rc) return;
    CHECK(M.n_params == params, "%s: %ld params, expected %ld", what, M.n_params, params);
    CHECK(M.n_buffers == buffers, "%s: %ld buffer values, expected %ld", what, M.n_buffers, buffers);
    CHECK(M.n_layers == layers, "%s: %d layers, expected %d", what, M.n_layers, layers);
}

static void refuses(const char *text, const char *want) {
    lr_error err = {{0}};
    int rc = model_spec_parse(&M, text, "bad.model", &err);
    CHECK(rc != 0, "accepted: %s", text);
    CHECK(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
    CHECK(!strncmp(err.msg, "bad.model", 9), "message '%s' does not name the file", err.msg);
}

static void parser_tests(void) {
    parses("chain", "input 3 8 8\nconv c 4\nrelu\nmaxpool 2\nflatten\nlinear f 10\n", 3 * 4 * 9 + 64 * 10, 0, 5);
    parses("bias, batchnorm", "input 3 8 8\nconv c 4 bias=1\nbatchnorm bn\nflatten\nlinear f 10 bias=1\n",
           108 + 4 + 8 + 256 * 10 + 10, 9, 4);
    parses("affine=0", "input 3 4 4\nconv c 4\nbatchnorm bn affine=0\nflatten\nlinear f 2\n", 108 + 128, 9, 4);
    parses("residual", "input 3 4 4\nconv a 3\nconv b 3\nadd in=a\nadd in=input\nflatten\nlinear f 2\n",
           81 * 2 + 96, 0, 6);
    parses("block and repeat",
           "input 2 4 4\nblock cb NAME W\nconv $NAME.conv $W\nrelu\nend\ncb s.0 3\nrepeat i=1..2 cb s.$i 3\n"
           "repeat 2 cb t.${i} 1\nflatten\nlinear f 2\n",
           54 + 2 * 81 + 27 + 9 + 16 * 2, 0, 12);
    const layer_spec *l = &M.layers[4];
    CHECK(!strcmp(l->name, "s.2.conv"), "repeat names: %s", l->name);
    CHECK(model_find_layer(&M, "t.1.conv", M.n_layers) == 8, "t.1.conv at %d", model_find_layer(&M, "t.1.conv", M.n_layers));
    parses("$input in a block",
           "input 2 4 4\nblock res NAME\nconv $NAME.a 2\nadd in=$input\nend\nrelu\nres r0\nres r1\nflatten\nlinear f 2\n",
           2 * 36 + 32 * 2, 0, 7);
    CHECK(M.layers[2].in[0] == 0 && M.layers[2].in[1] == 1 && M.layers[4].in[0] == 2 && M.layers[4].in[1] == 3,
          "add reads the block's input and the previous layer: %d %d", M.layers[2].in[0], M.layers[4].in[0]);
    parses("shapes", "input 3 9 9\nconv a 4 k=7 stride=2 pad=3\nmaxpool 3 stride=2 pad=1\navgpool 2\n"
                     "global_avgpool\nflatten\ndropout 0.1\nlinear f 3\nscale 0.5\n", 4 * 3 * 49 + 12, 0, 8);
    CHECK(M.layers[0].h == 5 && M.layers[1].h == 3 && M.layers[2].h == 1 && M.layers[3].h == 1,
          "shapes %d %d %d", M.layers[0].h, M.layers[1].h, M.layers[2].h);
    parses("pad=same even k", "input 1 5 6\nconv a 2 k=4 pad=same\nflatten\nlinear f 2\n", 32 + 60 * 2, 0, 3);
    CHECK(M.layers[0].h == 5 && M.layers[0].w == 6 && M.layers[0].u.conv.pad == 1 && M.layers[0].u.conv.pad_end == 2,
          "pad=same: %dx%d pad %d,%d", M.layers[0].h, M.layers[0].w, M.layers[0].u.conv.pad, M.layers[0].u.conv.pad_end);
    parses("shortcut A", "input 16 8 8\nshortcut 32 stride=2\nflatten\nlinear f 2\n", 32 * 16 * 2, 0, 3);
    CHECK(M.layers[0].c == 32 && M.layers[0].h == 4, "shortcut shape %d %d", M.layers[0].c, M.layers[0].h);
    parses("airbench-style names", "input 3 8 8\nconv 0 24 k=2 pad=0 bias=1\ngelu\nconv 2.conv1 8\nbatchnorm 2.norm1\n"
           "flatten\nlinear 7 10\nscale 0.1111111111111111\n", 3 * 24 * 4 + 24 + 24 * 8 * 9 + 16 + 8 * 49 * 10, 17, 7);
    CHECK(!strcmp(M.tensors[0].name, "0.weight") && !strcmp(M.tensors[4].name, "2.norm1.bias") &&
              !strcmp(M.tensors[7].name, "2.norm1.num_batches_tracked") && M.tensors[7].ndim == 0,
          "names %s %s %s", M.tensors[0].name, M.tensors[4].name, M.tensors[7].name);

    /* bias_init=zeros: airbench's Conv zeroes its bias; the default draws it */
    parses("bias_init", "input 3 4 4\nconv a 4 bias=1 bias_init=zeros\nconv b 4 bias=1\nflatten\nlinear f 2 bias=1 "
           "bias_init=zeros\n", 112 + 148 + 130, 0, 4);
    float *p = calloc(M.n_params, sizeof *p);
    model_init_params(&M, p, 1);
    float za = 0, zb = 0, zf = 0;
    for (int i = 0; i < 4; i++) za += p[108 + i] * p[108 + i], zb += p[112 + 144 + i] * p[112 + 144 + i];
    for (int i = 0; i < 2; i++) zf += p[260 + 128 + i] * p[260 + 128 + i];
    CHECK(za == 0 && zf == 0 && zb > 0, "bias_init=zeros: conv %g linear %g, default %g", za, zf, zb);
    free(p);
    refuses("input 3 4 4\nconv a 3 bias=1 bias_init=ones\n", "bias_init=ones: expected default or zeros");

    refuses("input 3 4 4\nconv a 3\nadd in=b\nflatten\nlinear f 2\n", ":3: in=b: no layer named 'b' above this line");
    refuses("input 3 4 4\nconv a 3\nconv b 5\nadd in=a\nflatten\nlinear f 2\n", ":4: 'add' of shapes 3x4x4 and 5x4x4: expected equal shapes");
    refuses("input 3 4 4\nconv a 3\nadd\nflatten\nlinear f 2\n", "'add' needs in=NAME");
    refuses("input 3 4 4\nconv a 3\nrelu in=a,a\nflatten\nlinear f 2\n", "only 'add' reads two layers");
    refuses("input 3 4 4\nblock b X\nconv $X 3\nend\nb\nflatten\nlinear f 2\n", ":5: block 'b' takes 1 argument (defined at line 2), got 0");
    refuses("input 3 4 4\nblock b X\nconv $Y 3\nend\nb q\nflatten\nlinear f 2\n", ":3 (in block 'b' used at line 5): '$Y': no variable 'Y' here");
    refuses("input 3 4 4\nblock b X\nb $X\nend\nb q\nflatten\nlinear f 2\n", "deeper than");
    refuses("input 3 4 4\nblock b X\nconv $X 3\n", ":2: block 'b' has no 'end'");
    refuses("input 3 4 4\nend\n", ":2: 'end' without 'block'");
    refuses("input 3 4 4\nblock conv X\nend\n", "block name 'conv'");
    refuses("input 3 4 4\nconv a 3\nconv a 3\nflatten\nlinear f 2\n", ":3: name 'a' already used on line 2");
    /* found by review: each was accepted and built the wrong network, or said the wrong thing */
    refuses("input 3 4 4\nconv a 3\nrelu\nconv b 3\nrelu in=\nflatten\nlinear f 2\n", ":5: in=: an empty layer name");
    refuses("input 3 4 4\nconv a 3\nadd in=,a\nflatten\nlinear f 2\n", "in=,a: an empty layer name");
    refuses("input 3 4 4\nconv a 3\nconv d 2 in=input\nconv b 3 in=a\nflatten\nlinear f 2\n",
            ":3: the output of layer 2 ('conv d') is never read");
    refuses("input 3 4 4\nmaxpool 2 name=_2\nflatten\nlinear f 2\n", "name '_2': '_' and digits only is kept");
    refuses("input 3 4 4\nblock b X\nconv $X 3\nend b extra\nb q\nflatten\nlinear f 2\n", ":4: 'end b': expected 'end' alone");
    refuses("input 3 4 4\nconv a 3 bias_init=zeros\nflatten\nlinear f 2\n", "bias_init=zeros: the layer has no bias");
    refuses("input 3 4 4\nconv a 3 pad=Same\nflatten\nlinear f 2\n", "pad=Same: expected same or an integer");
    refuses("input 3 1 1\nconv g 3 k=1\nflatten\nlinear f 3\nadd in=g,f\nflatten\nlinear o 2\n",
            "'add' of shapes 3x1x1 and flat 3");
    /* an empty repeat (a stage of one block: ResNet-8) */
    parses("empty repeat", "input 1 4 4\nblock cb NAME\nconv $NAME 2\nend\ncb a\nrepeat i=1..0 cb b.$i\nrepeat 0 cb c.$i\n"
           "flatten\nlinear f 2\n", 18 + 64, 0, 3);
    refuses("input 1 4 4\nblock cb NAME\nconv $NAME 2\nend\nrepeat i=2..0 cb b.$i\nflatten\nlinear f 2\n",
            "repeat end '0': expected an integer in 1..");
    /* a repeat's variable shadows a block argument of the same name (the innermost wins) */
    parses("repeat shadows", "input 1 8 8\nblock outer i\nrepeat i=1..2 mp $i\nend\nblock mp K\nmaxpool $K\nend\n"
           "outer 2\nflatten\nlinear f 2\n", 32, 0, 4);
    CHECK(M.n_layers == 4 && M.layers[0].h == 8 && M.layers[1].h == 4, "repeat i=1..2 inside a block with argument i: "
          "maxpool 1 then 2 (sizes 8, 4), got %d, %d", M.layers[0].h, M.layers[1].h);
    refuses("input 3 4 4\nconv a.. 3\n", "name 'a..'");
    refuses("input 3 4 4\nconv a 3 stride=2 pad=same\n", "pad=same needs stride=1");
    refuses("input 3 4 4\nshortcut 4 stride=2\n", "even difference");
    refuses("input 3 4 4\nmaxpool 2 pad=2\n", "at most half the pool size");
    refuses("input 3 4 4\nconv a 3 k=3 wide=1\n", "'conv' takes no option 'wide'");
    refuses("input 3 4 4\nconv a 3 bias=2\n", "bias '2': expected an integer in 0..1");
    refuses("input 3 4 4\nbatchnorm b momentum=2\n", "momentum '2': expected a number in 0..1");
    parses("eps above 1 (PyTorch takes any eps > 0)", "input 3 4 4\nbatchnorm b eps=2\nflatten\nlinear f 2\n", 6 + 96, 7, 3);
    refuses("input 3 4 4\nbatchnorm b eps=0\nflatten\nlinear f 2\n", "eps=0: expected a number > 0");
    parses("momentum=None", "input 3 4 4\nbatchnorm b momentum=None\nflatten\nlinear f 2\n", 6 + 96, 7, 3);
    CHECK(M.layers[0].u.bn.momentum == MODEL_BN_CUMULATIVE && model_bn_factor(&M.layers[0].u.bn, 4) == 0.25 &&
              model_bn_factor(&(batchnorm_spec){.momentum = 0.1}, 4) == 0.1,
          "momentum=None: the factor is 1 / num_batches_tracked");
    refuses("input 3 4 4\nflatten\nbatchnorm b\n", "'batchnorm' of a flat input");
    refuses("input 3 4 4\nconv a 3\nrelu\n", "the last layer's output must be flat");
    refuses("input 3 4 4\nrepeat 2 nosuch x\n", "repeat: no block named 'nosuch'");
    refuses("input 3 4 4\nconv a 3 init=xavier\n", "init=xavier: expected default, kaiming_normal or dirac");
    refuses("input 3 4 4\nfoo\n", "unknown layer 'foo'");
    refuses("input 3 4 4\nconv a 3 =5\n", "'conv' takes no option ''"); /* an empty key (a fuzzer found the hang) */
    /* nested repeats of empty blocks: 10^9 uses, refused at once (a fuzzer found the hang) */
    refuses("input 3 4 4\nblock e X\nend\nblock f X\nrepeat 1000 e x\nend\nblock g X\nrepeat 1000 f x\nend\n"
            "repeat 1000 g x\nflatten\nlinear f 2\n", "more than 65536 block uses");

    struct { const char *name; long params; } shipped[] = {
        {"vgg-seed", 688224}, {"resnet20", 269722}, {"resnet32", 464154}, {"resnet56", 853018}, {"resnet110", 1727962},
        {"airbench94-net", 1972792}, {"resnet18", 11173962}, {"vgg11-bn", 9231114}};
    for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++) {
        lr_error err = {{0}};
        int rc = model_spec_load(&M, shipped[i].name, search, &err);
        CHECK(rc == 0, "%s: %s", shipped[i].name, err.msg);
        CHECK(rc || M.n_params == shipped[i].params, "%s: %ld params, expected %ld", shipped[i].name, M.n_params,
              shipped[i].params);
    }
}

/* ---- tools for the PyTorch comparison ---- */

static int list(const char *path) {
    lr_error err;
    if (model_spec_load(&M, path, search, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    for (int i = 0; i < M.n_tensors; i++) {
        const model_tensor *t = &M.tensors[i];
        printf("%s %d", t->name, t->buffer);
        for (int d = 0; d < t->ndim; d++) printf(" %d", t->shape[d]);
        printf("\n");
    }
    return 0;
}

static void print_row(const char *label, const char *name, const float *x, long n) {
    printf("%s %s", label, name);
    for (long i = 0; i < n; i++) printf(" %.9g", x[i]);
    printf("\n");
}

static int run(const char *model, const char *in, net_backend backend, int training) {
    lr_error err;
    st_file f;
    if (model_spec_load(&M, model, search, &err) || st_read(&f, in, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    const st_tensor *xt = st_find(&f, "input.x");
    if (!xt || xt->ndim != 4) { fprintf(stderr, "%s: no 4-d input.x\n", in); return 1; }
    int B = (int)xt->shape[0];
    float *p = calloc(M.n_params + 1, 4), *g = calloc(M.n_params + 1, 4), *buf = calloc(M.n_buffers + 1, 4);
    float *x = calloc((size_t)B * M.in_c * M.in_h * M.in_w, 4), *yf = calloc(B, 4);
    float *logits = calloc((size_t)B * M.n_classes, 4), *dl = calloc((size_t)B * M.n_classes, 4);
    int *y = calloc(B, sizeof(int));
    long xs[4] = {B, M.in_c, M.in_h, M.in_w}, ys[1] = {B};
    int rc = st_copy(&f, "input.x", ST_F32, 4, xs, x, &err) || st_copy(&f, "input.y", ST_F32, 1, ys, yf, &err);
    for (int i = 0; i < M.n_tensors && !rc; i++) {
        const model_tensor *t = &M.tensors[i];
        long shape[4];
        for (int d = 0; d < t->ndim; d++) shape[d] = t->shape[d];
        rc = st_copy(&f, t->name, ST_F32, t->ndim, shape, (t->buffer ? buf : p) + t->offset, &err);
    }
    net *n = NULL;
    net_config cfg = {.backend = backend, .batch = B, .training = 1};
    if (!rc) rc = net_init(&n, &M, &cfg, &err);
    if (!rc) {
        for (int i = 0; i < B; i++) y[i] = (int)yf[i];
        net_set_buffers(n, buf);
        net_set_training(n, training);
        long correct = 0;
        rc = net_forward(n, x, B, p, logits, &err);
        double loss = rc ? 0 : loss_cross_entropy(dl, &correct, logits, y, B, M.n_classes, 1.0f / B, 0.0);
        if (!rc && training) rc = net_backward(n, dl, p, g, &err);
        if (!rc) {
            printf("loss %.9g\n", loss / B);
            print_row("logits", "-", logits, (long)B * M.n_classes);
            for (int i = 0; i < M.n_tensors && training; i++) {
                const model_tensor *t = &M.tensors[i];
                print_row(t->buffer ? "buffer" : "grad", t->name, (t->buffer ? buf : g) + t->offset, t->count);
            }
        }
    }
    if (rc) fprintf(stderr, "%s\n", err.msg);
    net_free(n);
    st_free(&f);
    free(p), free(g), free(buf), free(x), free(yf), free(logits), free(dl), free(y);
    return rc ? 1 : 0;
}

/* Mean, variance (about 0), largest |x| and the share of |x| > 2 sd of n values. */
typedef struct {
    double mean, var, max_abs, beyond2;
} moments;

static moments moments_of(const float *x, long n, double sd) {
    moments m = {0};
    for (long i = 0; i < n; i++) {
        double v = x[i];
        m.mean += v / n, m.var += v * v / n;
        m.max_abs = fabs(v) > m.max_abs ? fabs(v) : m.max_abs;
        m.beyond2 += fabs(v) > 2 * sd ? 1.0 / n : 0;
    }
    return m;
}

/* Initialisation per layer kind as PyTorch's modules make it (the
 * distributions; lrlab draws from its own stream): conv and linear weights
 * and biases kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in));
 * init=kaiming_normal N(0, sqrt(2/fan_in)) (kaiming_normal_'s defaults,
 * fan_in and a ReLU gain); init=dirac the identity filter on the first
 * min(out, in) output channels (airbench's dirac_(w[:w.size(1)])), the others
 * drawn; BatchNorm weight 1, bias 0, running_mean 0, running_var 1. */
static void init_tests(void) {
    parses("init", "input 64 6 6\nconv u 64 bias=1\nconv k 64 init=kaiming_normal\nconv d 96 init=dirac\n"
           "batchnorm bn\nflatten\nlinear f 10 bias=1\n",
           64 * 576 + 64 + 64 * 576 + 96 * 576 + 2 * 96 + 96 * 36 * 10 + 10, 2 * 96 + 1, 6);
    if (M.n_layers != 6) return;
    float *p = calloc(M.n_params, sizeof *p), *b = calloc(M.n_buffers + 1, sizeof *b);
    model_init_params(&M, p, 3);
    model_init_buffers(&M, b);
    const model_tensor *uw = &M.tensors[0], *ub = &M.tensors[1], *kw = &M.tensors[2], *dw = &M.tensors[3];
    double bu = 1.0 / sqrt(576.0), sk = sqrt(2.0 / 576.0);
    moments m = moments_of(p + uw->offset, uw->count, bu / sqrt(3.0));
    /* 36,864 draws: one sd of the sample variance is 0.5% of U's bound^2/3 (of a normal's sd^2: 0.7%), of the
     * mean 0.3% of the bound (0.5% of a normal's sd), of the share beyond 2 sd 0.1%: the limits are 4-6 sd */
    CHECK(m.max_abs <= bu && m.max_abs > 0.99 * bu && fabs(m.mean) < 0.02 * bu && fabs(m.var / (bu * bu / 3) - 1) < 0.03,
          "default conv weight: max %g (bound %g), mean %g, var %g (want %g)", m.max_abs, bu, m.mean, m.var, bu * bu / 3);
    m = moments_of(p + ub->offset, ub->count, 1);
    CHECK(m.max_abs <= bu && m.max_abs > 0.5 * bu, "default conv bias: max %g (bound %g)", m.max_abs, bu);
    m = moments_of(p + kw->offset, kw->count, sk);
    /* a normal: 4.55% beyond 2 sd (a uniform of the same sd has none) */
    CHECK(fabs(m.var / (sk * sk) - 1) < 0.03 && fabs(m.mean) < 0.03 * sk && fabs(m.beyond2 - 0.0455) < 0.005,
          "kaiming_normal: var %g (want %g), mean %g, beyond 2 sd %g (want 0.0455)", m.var, sk * sk, m.mean, m.beyond2);
    long per = 64 * 9, ident = 0, zeros = 0;
    for (int o = 0; o < 64; o++)
        for (long j = 0; j < per; j++) {
            float v = p[dw->offset + o * per + j];
            int centre = j == (long)o * 9 + 4; /* input channel o, row 1, column 1 of the 3x3 */
            ident += centre && v == 1.0f, zeros += !centre && v == 0.0f;
        }
    m = moments_of(p + dw->offset + 64 * per, 32 * per, bu / sqrt(3.0));
    CHECK(ident == 64 && zeros == 64 * per - 64, "dirac: %ld identity taps (want 64), %ld zeros (want %ld)", ident, zeros,
          64 * per - 64);
    CHECK(m.max_abs <= bu && m.max_abs > 0.99 * bu, "dirac: channels past the inputs drawn as default: max %g", m.max_abs);
    const model_tensor *bw = &M.tensors[4], *bb = &M.tensors[5], *rm = &M.tensors[6], *rv = &M.tensors[7],
                       *nb = &M.tensors[8], *fw = &M.tensors[9];
    int bn_ok = 1;
    for (long j = 0; j < 96; j++)
        bn_ok &= p[bw->offset + j] == 1.0f && p[bb->offset + j] == 0.0f && b[rm->offset + j] == 0.0f &&
                 b[rv->offset + j] == 1.0f;
    CHECK(bn_ok && b[nb->offset] == 0.0f, "batchnorm: weight 1, bias 0, running_mean 0, running_var 1, count 0");
    double bf = 1.0 / sqrt(96.0 * 36);
    m = moments_of(p + fw->offset, fw->count, 1);
    CHECK(m.max_abs <= bf && m.max_abs > 0.99 * bf, "linear weight: max %g (bound 1/sqrt(3456) = %g)", m.max_abs, bf);
    free(p), free(b);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--list")) return list(argv[2]);
    if (argc >= 4 && argc <= 6 && !strcmp(argv[1], "--run"))
        return run(argv[2], argv[3], argc >= 5 && !strcmp(argv[4], "dnnl") ? NET_BACKEND_DNNL : NET_BACKEND_REF,
                   !(argc == 6 && !strcmp(argv[5], "eval")));
    parser_tests();
    init_tests();
    return test_summary("test_model");
}
