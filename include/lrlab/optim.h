/* lrlab/optim.h: the loss and the optimisers, with PyTorch 1.13's semantics
 * (torch.nn.CrossEntropyLoss; torch.optim.SGD, Adam, AdamW, RMSprop,
 * Adagrad, Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop; docs/optimisers.md).
 * Plain loops over flat arrays: no knowledge of layers or backends.
 *
 * An optimiser is a kind (a row of the table in src/optim/optim.c: its
 * PyTorch name, its hyper-parameters with torch's keyword names, defaults
 * and checks, its per-parameter state, its step) and an optim_params, the
 * values of torch's param_group. Its state is a few named float tensors of
 * n_params values each plus named scalars (the step count, NAdam's
 * mu_product, ...), so that checkpoints store any optimiser the same way.
 * lrlab's parameters are one flat array: every torch per-parameter scalar
 * (`step`, `mu_product`, `eta`) is the same for all of them and kept once. */
#ifndef LRLAB_OPTIM_H
#define LRLAB_OPTIM_H

#include "lrlab/common.h"

/* Cross-entropy of n rows of logits against labels, computed with the max
 * subtracted, with torch.nn.CrossEntropyLoss's label_smoothing (0: none;
 * eps: each row's loss is (1 - eps) * -log p[y] + eps / classes * -sum_k
 * log p[k], torch 1.13's formula). Writes dlogits = (softmax - target) *
 * grad_scale, target = (1 - eps) * onehot + eps / classes (pass 1/batch for
 * the gradient of the batch mean, 1 for reduction='sum'; dlogits may be
 * NULL), adds the count of rows whose argmax (first maximum) equals the
 * label to *correct, and returns the SUM of the per-row losses (in double). */
double loss_cross_entropy(float *dlogits, long *correct, const float *logits, const int *labels,
                          int n, int classes, float grad_scale, double label_smoothing);

/* What happens between the logits and the optimiser step: the training
 * loss (--label-smoothing, --loss-reduction) and the gradient clipping
 * (--clip-grad-norm, --clip-norm-type, --clip-grad-value). */
typedef struct {
    double label_smoothing; /* CrossEntropyLoss(label_smoothing=) */
    int sum;                /* reduction='sum': the gradient of the batch's sum, not its mean */
    double clip_norm;       /* clip_grad_norm_(max_norm=) before each step; 0: off */
    int clip_norm_inf;      /* its norm_type (and the logged norm's): inf, not 2 */
    double clip_value;      /* clip_grad_value_(clip_value=); 0: off */
} loss_options;

/* loss_cross_entropy's grad_scale for a batch of total images. */
float loss_grad_scale(const loss_options *o, long total);
/* The clipping o asks for, of the n gradients g whose norm (grad_total_norm
 * of o's type) is norm. */
void grad_clip(const loss_options *o, float *g, long n, float norm);

/* torch.nn.utils.clip_grad_norm_'s total_norm of the gradients g, which are
 * n_tensors tensors of counts[i] floats back to back: the 2-norm of the
 * tensors' 2-norms (each rounded to float as torch's), or with inf the
 * largest |g| (NaN when one is). */
float grad_total_norm(const float *g, const long *counts, int n_tensors, int inf);
/* The rest of clip_grad_norm_: g *= min(max_norm / (total_norm + 1e-6), 1)
 * in torch's float operations. */
void clip_grad_norm(float *g, long n, double max_norm, float total_norm);
/* torch.nn.utils.clip_grad_value_: g clamped to [-clip_value, clip_value]. */
void clip_grad_value(float *g, long n, double clip_value);

/* 1 when every value is finite. */
int all_finite(const float *x, long n);

typedef enum {
    OPTIM_SGD,
    OPTIM_ADAM,
    OPTIM_ADAMW,
    OPTIM_RMSPROP,
    OPTIM_ADAGRAD,
    OPTIM_ADADELTA,
    OPTIM_ADAMAX,
    OPTIM_NADAM,
    OPTIM_RADAM,
    OPTIM_ASGD,
    OPTIM_RPROP,
    OPTIM_KINDS
} optim_kind;

/* torch's param_group: the union of every kind's hyper-parameters, as the
 * Python floats a script passes (a schedule sets lr, and momentum or
 * betas[0]); a step rounds them to float where ATen does. Fields a kind
 * does not have are unused. torch's tuples: betas = (beta1, beta2), Rprop's
 * etas = (etaminus, etaplus) and step_sizes = (step_size_min, step_size_max). */
typedef struct {
    optim_kind kind;
    double lr, momentum, dampening, weight_decay;
    double beta1, beta2, eps, alpha, lr_decay, initial_accumulator_value, rho, momentum_decay;
    double lambd, t0, etaminus, etaplus, step_size_min, step_size_max;
    int nesterov, amsgrad, centered, maximize;
} optim_params;

#define OPTIM_MAX_TENSORS 4 /* state tensors of a kind (RMSprop: square_avg, momentum_buffer, grad_avg) */
#define OPTIM_MAX_SCALARS 4
#define OPTIM_MAX_GROUPS 16 /* parameter groups (--param-group), the default group included */

/* One optimiser's state over n parameters: t[i] holds the tensor named
 * optim_tensor_name(kind, i) (n floats), s[g * OPTIM_MAX_SCALARS + i] the
 * scalar named optim_scalar_name(kind, i) of parameter group g (torch keeps
 * them per parameter; within a group lrlab's are all the same: every
 * parameter of a group steps together). Built by optim_state_init as
 * torch's state before the first step, for one group over all n
 * parameters; optim_state_free accepts a zeroed or half-built one. */
typedef struct {
    optim_kind kind;
    long n;
    int n_tensors, n_scalars, n_groups;
    float *t[OPTIM_MAX_TENSORS];
    double s[OPTIM_MAX_GROUPS * OPTIM_MAX_SCALARS];
} optim_state;

int optim_state_init(optim_state *o, const optim_params *hp, long n, lr_error *err);
/* Parameter group g (n_groups grows to include it) over the parameters in
 * ranges (n_ranges pairs offset, count): torch's initial state with the
 * group's values hp (Adagrad's initial_accumulator_value, Rprop's and
 * ASGD's lr, NAdam's mu_product). */
void optim_group_init(optim_state *o, int g, const long *ranges, int n_ranges, const optim_params *hp);
/* One step of group g over its ranges (optim_step on each, the group's
 * scalars advanced once). */
int optim_step_group(optim_state *o, int g, const long *ranges, int n_ranges, float *params, const float *grads,
                     const optim_params *hp, lr_error *err);
void optim_state_free(optim_state *o);

/* One step of the kind's torch 1.13 single-tensor (non-foreach) CPU update
 * over n parameters, the float operations in torch's order: params change
 * in place, grads are read only. hp holds the values in use at this step
 * (a schedule's lr and momentum/beta1). Fails only where torch raises (an
 * RMSprop whose momentum turned positive after its state was made without
 * a momentum buffer). */
int optim_step(optim_state *o, float *params, const float *grads, const optim_params *hp, lr_error *err);

/* The kinds' names and what they have. */
const char *optim_name(optim_kind k);                /* "Adam"; NULL out of range */
int optim_find(const char *name, int len);           /* the kind named name[0, len), or -1 */
int optim_n_tensors(optim_kind k);
const char *optim_tensor_name(optim_kind k, int i);  /* "exp_avg" */
int optim_n_scalars(optim_kind k);
const char *optim_scalar_name(optim_kind k, int i);  /* "step" */

/* What a cyclic schedule (CyclicLR, OneCycleLR with cycle_momentum) cycles,
 * as PyTorch decides: "momentum" when the kind has a momentum key, "beta1"
 * (betas[0]) when it has betas, NULL when neither. */
const char *optim_cycled_key(optim_kind k);
/* The value of that key in hp (0 when none). */
double optim_cycled_value(const optim_params *hp);
/* Sets it (nothing when the kind has none). */
void optim_set_cycled(optim_params *hp, double v);

/* PyTorch's defaults for kind k (lr: the kind's default; SGD has none in
 * torch, lrlab's is 0.01). */
void optim_defaults(optim_params *hp, optim_kind k);

/* The seed's SGD from lrlab's shorthand flags (--lr --momentum --dampening
 * --weight-decay --nesterov), checked as torch.optim.SGD's constructor. */
int optim_sgd(optim_params *hp, double lr, double momentum, double dampening, double weight_decay, int nesterov,
              lr_error *err);

/* Parses an optimiser in PyTorch constructor syntax, e.g.
 * "Adam(lr=1e-3, betas=(0.9, 0.99), weight_decay=5e-4)", with the schedule
 * parser's syntax (src/sched/expr.c), torch 1.13's keyword names, defaults
 * and checks (its ValueError messages); on error err holds the message with
 * the expression and a caret under the offending part. *lr_given says
 * whether the expression set lr. */
int optim_parse(optim_params *hp, int *lr_given, const char *expr, lr_error *err);

/* A parameter group (--param-group 'SELECTOR: key=value, ...';
 * docs/optimisers.md): which parameters (the selector: alternatives
 * separated by '|', each a glob on state_dict names such as "*.bias" or
 * "layer1.*", or a kind: @conv, @linear, @batchnorm, @weight, @bias, or a
 * kind and a role such as @batchnorm.bias), and their values: the
 * optimiser's, overridden by the group's keys (any of the kind's
 * hyper-parameters, lr_scale multiplying its lr, frozen). */
enum { FROZEN_NO, FROZEN_ALWAYS, FROZEN_UNTIL, FROZEN_FROM };
typedef struct {
    char text[512];   /* as given ("" for the default group: every parameter no other group selects) */
    int sel_pos, sel_len; /* the selector's span in text */
    optim_params hp;  /* lr_scale applied */
    double lr_scale;  /* 1 unless given */
    int frozen;       /* FROZEN_*: no step (no decay either) always, for epochs < frozen_epoch (until:N), or */
    long frozen_epoch; /* from epoch frozen_epoch on (from:N) */
} param_group;

/* Parses text over base (the optimiser's values); on error err holds the
 * message with text and a caret under the offending part. */
int optim_group_parse(param_group *g, const optim_params *base, const char *text, lr_error *err);
/* The default group: base's values. */
void optim_group_default(param_group *g, const optim_params *base);
/* 1 when g's selector takes the parameter tensor named name (state_dict
 * name), of a layer of kind layer ("conv", "linear", "batchnorm"), a bias
 * or a weight. The default group takes every one. */
int optim_group_selects(const param_group *g, const char *name, const char *layer, int bias);
/* err: msg about g's selector, with its text and a caret under the selector. */
int optim_group_fail(lr_error *err, const param_group *g, const char *msg);
/* 1 when g's parameters do not step in epoch e (counted from 0). */
int optim_group_frozen(const param_group *g, long epoch);
/* "frozen", "frozen until epoch 3" or "" (what lrlab summary shows). */
const char *optim_group_frozen_text(const param_group *g, char *buf, size_t cap);

/* hp as a canonical expression with every hyper-parameter of its kind
 * ("Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, ...)"), what config.txt
 * records; brief: only lr and the values that differ from PyTorch's
 * defaults ("Adam(lr=0.001, weight_decay=0.05)"), what reports show. */
void optim_format(char *out, size_t cap, const optim_params *hp, int brief);

#endif
