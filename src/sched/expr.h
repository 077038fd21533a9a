/* sched/expr.h: internal to src/sched: the syntax tree of a schedule written
 * as a Python constructor call, e.g. "StepLR(step_size=3, gamma=0.5)", and
 * the tiny arithmetic language of lr_lambda ('0.95 ** epoch').
 *
 * expr.c tokenises and parses; it knows Python literal syntax but nothing
 * about schedulers (sched.c binds calls to classes). Every node remembers
 * its span in the source so that errors can put a caret under it. */
#ifndef LRLAB_SCHED_EXPR_H
#define LRLAB_SCHED_EXPR_H

#include "lrlab/common.h"

#define EXPR_MAX_LEN 4096 /* longest expression accepted (characters) */
#define EXPR_MAX_DEPTH 48 /* deepest nesting of calls, lists, parentheses, operators */

enum ast_kind {
    AST_NUM,    /* num, is_int */
    AST_STR,    /* the text is src[str_pos, str_pos + str_len) */
    AST_BOOL,   /* num is 0 or 1 */
    AST_NONE,
    AST_NAME,   /* a bare identifier, e.g. `optimizer` (only meaningful as a call's first argument) */
    AST_LIST,   /* first..next: the items */
    AST_CALL,   /* name: the class; first..next: the arguments (kw_len > 0 for keyword ones) */
    AST_LAMBDA, /* `lambda v: body`: var spans the parameter name; first: the body */
    AST_VAR,    /* the arithmetic variable (op 1: the second one of expr_parse_arith2) */
    AST_UNARY,  /* op '-' or '+'; first: the operand */
    AST_BINOP,  /* op '+', '-', '*', '/', '^' (for **); first, first->next: the operands */
    AST_FUNC,   /* func: one of enum expr_func; first..next: the arguments */
};

enum expr_func { FN_MIN, FN_MAX, FN_COS, FN_EXP, FN_LOG, FN_FLOOR };

typedef struct ast ast;
struct ast {
    int kind;
    int pos, len;       /* span of the whole node in the source */
    int kw_pos, kw_len; /* as a call argument: the keyword's span (kw_len 0: positional) */
    double num;
    int is_int;
    int op, func;
    int str_pos, str_len; /* AST_STR: the text between the quotes; AST_LAMBDA: the variable */
    ast *first, *next;    /* children, and the next sibling */
};

/* A parse or evaluation error: a message and the span it is about. */
typedef struct {
    int pos, len;
    char msg[512];
} expr_error;

/* All the nodes of one parse live in one arena, freed at once. */
typedef struct {
    const char *src;
    int src_len;
    ast *nodes;
    int n_nodes, cap_nodes;
} expr_arena;

/* What a whole expression is: for messages, "a scheduler" such as
 * "StepLR(step_size=30)"; the module prefixes allowed before its class
 * ("torch.optim.lr_scheduler.", NULL-terminated). */
typedef struct {
    const char *label;          /* "sched": expr_fail_as's prefix */
    const char *kind;           /* "a scheduler" */
    const char *example;        /* "StepLR(step_size=30)" */
    const char *const *modules; /* NULL-terminated */
} expr_syntax;

/* Parses a whole expression (one call, nothing after it); syn NULL: a
 * schedule (src/optim parses optimisers with its own expr_syntax). */
int expr_parse(expr_arena *a, const char *src, const expr_syntax *syn, ast **out, expr_error *e);
/* Parses src[pos, pos + len) (a quoted lr_lambda) as an arithmetic
 * expression in the variable `var`, into the same arena. */
int expr_parse_arith(expr_arena *a, int pos, int len, const char *var, ast **out, expr_error *e);
/* The same in two variables (Lookahead's alpha in `step` and `total_steps`). */
int expr_parse_arith2(expr_arena *a, int pos, int len, const char *var, const char *var2, ast **out,
                      expr_error *e);
void expr_arena_free(expr_arena *a);

/* Evaluates arithmetic with Python's float semantics; fails (with the
 * span of the failing operation) where Python would raise: division by
 * zero, log of x <= 0, a negative number to a fractional power, overflow
 * to a non-finite value. */
int expr_eval(const ast *n, double var, double *out, expr_error *e);
/* The same for expr_parse_arith2's two variables. */
int expr_eval2(const ast *n, double var, double var2, double *out, expr_error *e);

/* Formats "sched: MSG\n  EXPR\n  ^~~~" into err (a window of the
 * expression when it is long; control characters shown as spaces). */
int expr_fail(lr_error *err, const char *src, int pos, int len, const char *msg);
/* The same with another prefix than "sched" ("optim"). */
int expr_fail_as(lr_error *err, const char *label, const char *src, int pos, int len, const char *msg);

#endif
