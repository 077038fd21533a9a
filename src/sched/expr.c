/* sched/expr.c: tokeniser and recursive-descent parser for schedules written
 * as Python constructor calls (ints, floats, True/False/None, '' and ""
 * strings without escapes, lists with an optional trailing comma, keyword and
 * positional arguments, `lambda v: ...`), and the arithmetic of lr_lambda:
 * + - * / ** (right-associative, binding tighter than a unary minus on its
 * left, as in Python), parentheses, min, max, cos, exp, log, floor, numbers
 * and one variable. Numeric arguments may be constant arithmetic too
 * (`factor=1/3`), folded here with Python's int/float typing.
 *
 * Not here: what the calls mean (sched.c). Recursion depth and length are
 * bounded, so no input can overflow the stack. */
#include "sched/expr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tok_kind {
    T_EOF, T_NAME, T_NUM, T_STR, T_LP, T_RP, T_LB, T_RB, T_COMMA, T_EQ,
    T_PLUS, T_MINUS, T_STAR, T_SLASH, T_POW, T_COLON, T_BAD,
};

typedef struct {
    int kind, pos, len;
    const char *why; /* T_BAD numbers: Python's reason */
} token;

typedef struct {
    expr_arena *a;
    const char *s;
    int pos, end; /* the part of a->src being parsed */
    int depth;
    int has_var, var_len;
    const char *var;      /* the variable's name (var_len characters) */
    const char *var_what; /* how to name the variable in messages */
    expr_error *e;
    const expr_syntax *syn; /* what calls the whole expression holds (expr.h) */
    const char *var2;       /* a second variable (expr_parse_arith2), or NULL */
} parser;

/* The schedules' syntax: the default of expr_parse. */
static const char *const sched_modules[] = {"torch.optim.lr_scheduler.", "optim.lr_scheduler.", "lr_scheduler.",
                                            "torch.optim.swa_utils.", "optim.swa_utils.", "swa_utils.",
                                            "warmup_scheduler.", "warmup_scheduler.scheduler.", NULL};
static const expr_syntax sched_syntax = {"sched", "a scheduler", "StepLR(step_size=30)", sched_modules};

static int perr(parser *p, int pos, int len, const char *fmt, const char *arg) {
    p->e->pos = pos;
    p->e->len = len > 0 ? len : 1;
    snprintf(p->e->msg, sizeof p->e->msg, fmt, arg ? arg : "");
    return -1;
}

static int is_name_start(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_name_char(int c) { return is_name_start(c) || is_digit(c); }

/* Digits of `base` with single underscores between them (Python's
 * digitpart); returns the end, or -1 when none or an underscore is misplaced. */
static int scan_digits(const char *s, int i, int end, int base) {
    int start = i;
    for (;;) {
        int c = i < end ? (unsigned char)s[i] : 0;
        int d = is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : 99;
        if (d < base) {
            i++;
        } else if (c == '_' && i > start && i + 1 < end) {
            int n = (unsigned char)s[i + 1];
            int dn = is_digit(n) ? n - '0' : (n >= 'a' && n <= 'f') ? n - 'a' + 10 : (n >= 'A' && n <= 'F') ? n - 'A' + 10 : 99;
            if (dn >= base) return -1;
            i++;
        } else {
            return i > start && s[i - 1] != '_' ? i : -1;
        }
    }
}

/* 0x1F, 0o17, 0b101 (s[i] is '0', s[i + 1] one of xXoObB): returns the end. */
static int scan_prefixed(const char *s, int i, int end, const char **why) {
    static const char prefix[] = "xXoObB";
    static const int bases[] = {16, 16, 8, 8, 2, 2};
    static const char *const bad[] = {"invalid hexadecimal literal", "invalid octal literal", "invalid binary literal"};
    static const char *const bad_digit[] = {"", "invalid digit in octal literal", "invalid digit in binary literal"};
    int k = (int)(strchr(prefix, s[i + 1]) - prefix);
    int j = i + 2 + (i + 2 < end && s[i + 2] == '_');
    int e2 = scan_digits(s, j, end, bases[k]);
    int at = e2 < 0 ? j : e2;
    if (k >= 2 && at < end && is_digit((unsigned char)s[at])) e2 = -1, *why = bad_digit[k / 2];
    else if (at < end && is_name_char((unsigned char)s[at])) e2 = -1;
    if (e2 >= 0) return e2;
    if (!*why) *why = bad[k / 2];
    while (j < end && is_name_char((unsigned char)s[j])) j++;
    return j;
}

/* One Python number literal from s[i] (a digit, or '.' and a digit), by
 * the tokenizer's rules (docs.python.org/3/reference/lexical_analysis.html):
 * 0x/0o/0b integers, decimal integers without leading zeros (but 0, 00,
 * 0_0), floats with a fraction and/or an exponent (03.5 and 0e1 are fine),
 * underscores only between digits. Returns the end; *why is Python's reason
 * when the literal is invalid. */
static int scan_number(const char *s, int i, int end, const char **why) {
    *why = NULL;
    if (s[i] == '0' && i + 1 < end && s[i + 1] && strchr("xXoObB", s[i + 1])) return scan_prefixed(s, i, end, why);
    int j = i, is_float = 0, e2;
    if (s[j] != '.' && (j = scan_digits(s, i, end, 10)) < 0) j = i, *why = "invalid decimal literal";
    if (!*why && j < end && s[j] == '.') { /* a fraction: digits, or none after an integer part ("5.") */
        is_float = 1;
        j++;
        if (j < end && is_digit((unsigned char)s[j])) {
            if ((e2 = scan_digits(s, j, end, 10)) < 0) *why = "invalid decimal literal";
            else j = e2;
        } else if (j == i + 1) {
            *why = "invalid decimal literal";
        }
    }
    if (!*why && j < end && (s[j] == 'e' || s[j] == 'E')) {
        j += 1 + (j + 1 < end && (s[j + 1] == '+' || s[j + 1] == '-'));
        if ((e2 = scan_digits(s, j, end, 10)) < 0) *why = "invalid decimal literal";
        else j = e2, is_float = 1;
    }
    if (*why) {
        while (j < end && is_name_char((unsigned char)s[j])) j++;
        return j;
    }
    for (int k = i; !is_float && s[i] == '0' && k < j; k++)
        if (s[k] != '0' && s[k] != '_')
            *why = "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers";
    return j;
}

/* The value of a valid literal from scan_number. */
static double number_value(const char *s, int len, int *is_int) {
    char buf[96];
    int n = 0;
    for (int k = 0; k < len && n < (int)sizeof buf - 1; k++)
        if (s[k] != '_') buf[n++] = s[k];
    buf[n] = '\0';
    if (n > 2 && buf[0] == '0' && strchr("xXoObB", buf[1])) {
        int base = (buf[1] == 'x' || buf[1] == 'X') ? 16 : (buf[1] == 'o' || buf[1] == 'O') ? 8 : 2;
        double v = 0;
        for (int k = 2; k < n; k++) {
            int c = buf[k];
            v = v * base + (is_digit(c) ? c - '0' : (c | 32) - 'a' + 10);
        }
        *is_int = 1;
        return v;
    }
    *is_int = strpbrk(buf, ".eE") == NULL;
    return strtod(buf, NULL);
}

/* Reads the token at p->pos without consuming it. */
static token peek(const parser *p) {
    const char *s = p->s;
    int i = p->pos;
    while (i < p->end && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    token t = {T_EOF, i, 0, NULL};
    if (i >= p->end) return t;
    int c = (unsigned char)s[i];
    if (is_name_start(c)) {
        int j = i;
        while (j < p->end && is_name_char((unsigned char)s[j])) j++;
        t.kind = T_NAME;
        t.len = j - i;
        return t;
    }
    if (is_digit(c) || (c == '.' && i + 1 < p->end && is_digit((unsigned char)s[i + 1]))) {
        int j = scan_number(s, i, p->end, &t.why);
        /* "1abc", "1.5.2", "1j": Python rejects these too (lrlab has no complex numbers) */
        if (j < p->end && (is_name_char((unsigned char)s[j]) || s[j] == '.')) {
            int complex = !t.why && (s[j] == 'j' || s[j] == 'J') && (j + 1 >= p->end || !is_name_char((unsigned char)s[j + 1]));
            while (j < p->end && (is_name_char((unsigned char)s[j]) || s[j] == '.')) j++;
            if (!t.why) t.why = complex ? "complex numbers are not supported" : "invalid decimal literal";
        }
        t.kind = t.why ? T_BAD : T_NUM;
        t.len = j - i;
        return t;
    }
    if (c == '\'' || c == '"') {
        int j = i + 1;
        while (j < p->end && s[j] != c && s[j] != '\\' && s[j] != '\n') j++;
        if (j < p->end && s[j] == c) {
            t.kind = T_STR;
            t.len = j + 1 - i;
        } else {
            t.kind = T_BAD;
            t.len = (j < p->end && s[j] == '\\') ? j + 1 - i : 1;
        }
        return t;
    }
    t.len = 1;
    switch (c) {
    case '(': t.kind = T_LP; break;
    case ')': t.kind = T_RP; break;
    case '[': t.kind = T_LB; break;
    case ']': t.kind = T_RB; break;
    case ',': t.kind = T_COMMA; break;
    case ':': t.kind = T_COLON; break;
    case '+': t.kind = T_PLUS; break;
    case '-': t.kind = T_MINUS; break;
    case '/':
        t.kind = T_SLASH;
        if (i + 1 < p->end && s[i + 1] == '/') { t.kind = T_BAD; t.len = 2; }
        break;
    case '*':
        t.kind = T_STAR;
        if (i + 1 < p->end && s[i + 1] == '*') { t.kind = T_POW; t.len = 2; }
        break;
    case '=':
        t.kind = T_EQ;
        if (i + 1 < p->end && s[i + 1] == '=') { t.kind = T_BAD; t.len = 2; }
        break;
    default:
        t.kind = T_BAD;
        /* one UTF-8 character, so the caret covers it */
        if (c >= 0xC0) while (i + t.len < p->end && ((unsigned char)s[i + t.len] & 0xC0) == 0x80 && t.len < 4) t.len++;
        break;
    }
    return t;
}

static void take(parser *p, token t) { p->pos = t.pos + t.len; }

static int tok_is(const parser *p, token t, const char *word) {
    size_t n = strlen(word);
    return t.kind == T_NAME && (size_t)t.len == n && !memcmp(p->s + t.pos, word, n);
}

/* "unexpected X" for any token, with a hint for the usual mistakes. */
static int unexpected(parser *p, token t, const char *expected) {
    char what[64];
    if (t.kind == T_EOF) {
        snprintf(p->e->msg, sizeof p->e->msg, "unexpected end of the expression (expected %s)", expected);
        p->e->pos = t.pos;
        p->e->len = 1;
        return -1;
    }
    int n = t.len < 40 ? t.len : 40;
    snprintf(what, sizeof what, "%.*s", n, p->s + t.pos);
    p->e->pos = t.pos;
    p->e->len = t.len;
    if (t.kind == T_BAD && t.len == 2 && !memcmp(p->s + t.pos, "//", 2))
        snprintf(p->e->msg, sizeof p->e->msg, "'//' is not supported (write floor(a / b))");
    else if (t.kind == T_BAD && (p->s[t.pos] == '\'' || p->s[t.pos] == '"'))
        snprintf(p->e->msg, sizeof p->e->msg, "%s",
                 p->s[t.pos + t.len - 1] == '\\' ? "escapes are not supported in strings"
                                                 : "unterminated string");
    else if (t.kind == T_BAD && (is_digit((unsigned char)p->s[t.pos]) || p->s[t.pos] == '.'))
        snprintf(p->e->msg, sizeof p->e->msg, "invalid number '%s': %s", what,
                 t.why ? t.why : "invalid decimal literal");
    else
        snprintf(p->e->msg, sizeof p->e->msg, "unexpected '%s' (expected %s)", what, expected);
    return -1;
}

static ast *new_node(parser *p, int kind, int pos, int len) {
    expr_arena *a = p->a;
    if (a->n_nodes >= a->cap_nodes) {
        perr(p, pos, len, "expression too complex%s", NULL);
        return NULL;
    }
    ast *n = &a->nodes[a->n_nodes++];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->pos = pos;
    n->len = len;
    return n;
}

static void extend(ast *n, int end) {
    if (end > n->pos + n->len) n->len = end - n->pos;
}

static const char *const func_names[] = {"min", "max", "cos", "exp", "log", "floor"};

static int func_index(const parser *p, token t) {
    for (int i = 0; i < (int)(sizeof func_names / sizeof func_names[0]); i++)
        if (tok_is(p, t, func_names[i])) return i;
    return -1;
}

static int enter(parser *p, int pos) {
    if (++p->depth > EXPR_MAX_DEPTH)
        return perr(p, pos, 1, "expression nested too deeply (more than %s levels)", "48");
    return 0;
}

/* ---- arithmetic ---- */

static ast *parse_sum(parser *p);

static ast *parse_unary(parser *p);

static ast *parse_atom(parser *p) {
    token t = peek(p);
    if (t.kind == T_NUM) {
        take(p, t);
        ast *n = new_node(p, AST_NUM, t.pos, t.len);
        if (!n) return NULL;
        char buf[80];
        if (t.len >= (int)sizeof buf) {
            perr(p, t.pos, t.len, "number too long%s", NULL);
            return NULL;
        }
        memcpy(buf, p->s + t.pos, (size_t)t.len);
        buf[t.len] = '\0';
        n->num = number_value(buf, t.len, &n->is_int);
        if (!isfinite(n->num)) {
            perr(p, t.pos, t.len, "number '%s' is not finite", buf);
            return NULL;
        }
        return n;
    }
    if (t.kind == T_LP) {
        if (enter(p, t.pos)) return NULL;
        take(p, t);
        ast *inner = parse_sum(p);
        if (!inner) return NULL;
        token r = peek(p);
        if (r.kind != T_RP) {
            unexpected(p, r, "')'");
            return NULL;
        }
        take(p, r);
        p->depth--;
        /* keep the parenthesised span for carets */
        inner->pos = t.pos;
        inner->len = r.pos + 1 - t.pos;
        return inner;
    }
    if (t.kind == T_NAME) {
        int f = func_index(p, t);
        token after;
        take(p, t);
        after = peek(p);
        if (f >= 0 && after.kind == T_LP) {
            if (enter(p, t.pos)) return NULL;
            take(p, after);
            ast *n = new_node(p, AST_FUNC, t.pos, t.len);
            if (!n) return NULL;
            n->func = f;
            ast **tail = &n->first;
            int nargs = 0;
            for (;;) {
                token c = peek(p);
                if (c.kind == T_RP && nargs > 0) {
                    take(p, c);
                    extend(n, c.pos + 1);
                    break;
                }
                ast *arg = parse_sum(p);
                if (!arg) return NULL;
                *tail = arg;
                tail = &arg->next;
                nargs++;
                c = peek(p);
                if (c.kind == T_COMMA) {
                    take(p, c);
                    continue;
                }
                if (c.kind == T_RP) {
                    take(p, c);
                    extend(n, c.pos + 1);
                    break;
                }
                unexpected(p, c, "',' or ')'");
                return NULL;
            }
            p->depth--;
            if (f >= FN_COS && nargs != 1) {
                perr(p, n->pos, n->len, "%s() takes exactly one argument", func_names[f]);
                return NULL;
            }
            if (f <= FN_MAX && nargs < 2) {
                perr(p, n->pos, n->len, "%s() needs at least two arguments", func_names[f]);
                return NULL;
            }
            return n;
        }
        if (p->has_var && t.len == p->var_len && !memcmp(p->s + t.pos, p->var, (size_t)t.len))
            return new_node(p, AST_VAR, t.pos, t.len);
        if (p->has_var && p->var2 && t.len == (int)strlen(p->var2) && !memcmp(p->s + t.pos, p->var2, (size_t)t.len)) {
            ast *v = new_node(p, AST_VAR, t.pos, t.len);
            if (v) v->op = 1; /* the second variable */
            return v;
        }
        char name[48];
        snprintf(name, sizeof name, "%.*s", t.len < 40 ? t.len : 40, p->s + t.pos);
        if (after.kind == T_LP)
            perr(p, t.pos, t.len,
                 "unknown function '%s' (arithmetic knows min, max, cos, exp, log, floor)", name);
        else if (p->has_var) {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown name '%s' (the only %s here %s %s)", name,
                     p->var2 ? "variables" : "variable", p->var2 ? "are" : "is", p->var_what);
            perr(p, t.pos, t.len, "%s", msg);
        } else
            perr(p, t.pos, t.len, "unknown name '%s' (expected a number)", name);
        return NULL;
    }
    unexpected(p, t, "a number");
    return NULL;
}

/* power := atom ['**' unary]: right-associative, and -2**2 == -4 because
 * unary minus sits above power in the grammar (Python's rule). */
static ast *parse_power(parser *p) {
    ast *base = parse_atom(p);
    if (!base) return NULL;
    token t = peek(p);
    if (t.kind != T_POW) return base;
    take(p, t);
    ast *expo = parse_unary(p);
    if (!expo) return NULL;
    ast *n = new_node(p, AST_BINOP, t.pos, t.len);
    if (!n) return NULL;
    n->op = '^';
    n->first = base;
    base->next = expo;
    return n;
}

static ast *parse_unary(parser *p) {
    token t = peek(p);
    if (t.kind != T_MINUS && t.kind != T_PLUS) return parse_power(p);
    if (enter(p, t.pos)) return NULL;
    take(p, t);
    ast *operand = parse_unary(p);
    if (!operand) return NULL;
    p->depth--;
    ast *n = new_node(p, AST_UNARY, t.pos, t.len);
    if (!n) return NULL;
    n->op = t.kind == T_MINUS ? '-' : '+';
    n->first = operand;
    extend(n, operand->pos + operand->len);
    return n;
}

static ast *parse_binary(parser *p, int level) {
    ast *left = level ? parse_unary(p) : parse_binary(p, 1);
    if (!left) return NULL;
    for (;;) {
        token t = peek(p);
        int op = 0;
        if (level == 0 && (t.kind == T_PLUS || t.kind == T_MINUS)) op = t.kind == T_PLUS ? '+' : '-';
        if (level == 1 && (t.kind == T_STAR || t.kind == T_SLASH)) op = t.kind == T_STAR ? '*' : '/';
        if (level == 1 && t.kind == T_BAD && p->s[t.pos] == '%')
            return perr(p, t.pos, 1, "'%%' is not supported%s", NULL), NULL;
        if (!op) return left;
        take(p, t);
        ast *right = level ? parse_unary(p) : parse_binary(p, 1);
        if (!right) return NULL;
        ast *n = new_node(p, AST_BINOP, t.pos, t.len); /* the caret of an error goes under the operator */
        if (!n) return NULL;
        n->op = op;
        n->first = left;
        left->next = right;
        left = n;
    }
}

static ast *parse_sum(parser *p) { return parse_binary(p, 0); }

/* ---- evaluation (Python float semantics; ints tracked for type checks) ---- */

static int eval_fail(expr_error *e, const ast *n, const char *msg) {
    if (e) {
        e->pos = n->pos;
        e->len = n->len;
        snprintf(e->msg, sizeof e->msg, "%s", msg);
    }
    return -1;
}

static int eval_rec(const ast *n, const double *var, double *out, int *is_int, expr_error *e) {
    double a, b;
    int ia, ib;
    switch (n->kind) {
    case AST_NUM:
        *out = n->num;
        *is_int = n->is_int;
        return 0;
    case AST_VAR:
        *out = var[n->op == 1];
        *is_int = 1;
        return 0;
    case AST_UNARY:
        if (eval_rec(n->first, var, &a, &ia, e)) return -1;
        *out = n->op == '-' ? -a : a;
        *is_int = ia;
        return 0;
    case AST_BINOP:
        if (eval_rec(n->first, var, &a, &ia, e) || eval_rec(n->first->next, var, &b, &ib, e)) return -1;
        switch (n->op) {
        case '+': *out = a + b; *is_int = ia && ib; break;
        case '-': *out = a - b; *is_int = ia && ib; break;
        case '*': *out = a * b; *is_int = ia && ib; break;
        case '/':
            if (b == 0.0) return eval_fail(e, n, "division by zero");
            *out = a / b;
            *is_int = 0;
            break;
        default: /* '^' */
            if (a == 0.0 && b < 0.0) return eval_fail(e, n, "0 cannot be raised to a negative power");
            if (a < 0.0 && b != floor(b))
                return eval_fail(e, n, "a negative number to a fractional power is complex");
            *out = pow(a, b);
            *is_int = ia && ib && b >= 0.0;
            break;
        }
        break;
    case AST_FUNC: {
        const ast *arg = n->first;
        if (eval_rec(arg, var, &a, &ia, e)) return -1;
        switch (n->func) {
        case FN_MIN:
        case FN_MAX:
            /* Python's min/max keep the first of equal values */
            for (const ast *k = arg->next; k; k = k->next) {
                if (eval_rec(k, var, &b, &ib, e)) return -1;
                if (n->func == FN_MIN ? b < a : b > a) {
                    a = b;
                    ia = ib;
                }
            }
            *out = a;
            *is_int = ia;
            break;
        case FN_COS: *out = cos(a); *is_int = 0; break;
        case FN_EXP: *out = exp(a); *is_int = 0; break;
        case FN_LOG:
            if (!(a > 0.0)) return eval_fail(e, n, "log of a number <= 0 (math domain error)");
            *out = log(a);
            *is_int = 0;
            break;
        default: *out = floor(a); *is_int = 1; break;
        }
        break;
    }
    default:
        return eval_fail(e, n, "not a number");
    }
    if (!isfinite(*out)) return eval_fail(e, n, "the result overflows (not a finite number)");
    return 0;
}

int expr_eval(const ast *n, double var, double *out, expr_error *e) {
    int is_int;
    double v[2] = {var, 0};
    return eval_rec(n, v, out, &is_int, e);
}

int expr_eval2(const ast *n, double var, double var2, double *out, expr_error *e) {
    int is_int;
    double v[2] = {var, var2};
    return eval_rec(n, v, out, &is_int, e);
}

/* ---- Python literals and calls ---- */

static ast *parse_value(parser *p);

static ast *parse_call(parser *p, token name) {
    ast *n = new_node(p, AST_CALL, name.pos, name.len);
    if (!n) return NULL;
    take(p, peek(p)); /* the '(' */
    ast **tail = &n->first;
    int seen_keyword = 0;
    for (;;) {
        token t = peek(p);
        if (t.kind == T_RP) {
            take(p, t);
            break;
        }
        int kw_pos = 0, kw_len = 0;
        if (t.kind == T_NAME) {
            parser q = *p;
            take(&q, t);
            if (peek(&q).kind == T_EQ) {
                kw_pos = t.pos;
                kw_len = t.len;
                take(p, t);
                take(p, peek(p));
            }
        }
        token vt = peek(p);
        ast *v = parse_value(p);
        if (!v) return NULL;
        if (kw_len) {
            seen_keyword = 1;
        } else if (seen_keyword) {
            perr(p, vt.pos, v->len, "positional argument follows keyword argument%s", NULL);
            return NULL;
        }
        v->kw_pos = kw_pos;
        v->kw_len = kw_len;
        *tail = v;
        tail = &v->next;
        t = peek(p);
        if (t.kind == T_COMMA) {
            take(p, t);
            continue;
        }
        if (t.kind == T_RP) {
            take(p, t);
            break;
        }
        unexpected(p, t, "',' or ')'");
        return NULL;
    }
    return n;
}

/* A numeric value in a constant context: parse arithmetic, fold it. */
static ast *parse_constant(parser *p) {
    int saved = p->has_var;
    p->has_var = 0;
    token t = peek(p);
    ast *x = parse_sum(p);
    p->has_var = saved;
    if (!x) return NULL;
    if (x->kind == AST_NUM) return x;
    double v;
    int is_int;
    double zero[2] = {0, 0};
    if (eval_rec(x, zero, &v, &is_int, p->e)) return NULL;
    ast *n = new_node(p, AST_NUM, t.pos, p->pos - t.pos);
    if (!n) return NULL;
    /* the span runs from the first token to the end of the last one */
    while (n->len > 0 && (p->s[n->pos + n->len - 1] == ' ' || p->s[n->pos + n->len - 1] == '\t')) n->len--;
    n->num = v;
    n->is_int = is_int;
    return n;
}

/* [a, b, ...] or (a, b, ...) from the opening bracket t, a trailing comma
 * allowed; *commas counts the commas (a tuple needs one: `(5,)`). */
static ast *parse_items(parser *p, token t, int close, int *commas) {
    take(p, t);
    ast *n = new_node(p, AST_LIST, t.pos, 1);
    if (!n) return NULL;
    n->op = close == T_RP ? '(' : '[';
    *commas = 0;
    ast **tail = &n->first;
    for (;;) {
        token c = peek(p);
        if (c.kind == close) break;
        ast *item = parse_value(p);
        if (!item) return NULL;
        *tail = item;
        tail = &item->next;
        c = peek(p);
        if (c.kind == T_COMMA) {
            take(p, c);
            (*commas)++;
            continue;
        }
        if (c.kind != close) return unexpected(p, c, close == T_RP ? "',' or ')'" : "',' or ']'"), NULL;
        break;
    }
    token c = peek(p);
    take(p, c);
    extend(n, c.pos + 1);
    return n;
}

static ast *parse_value(parser *p) {
    token t = peek(p);
    if (enter(p, t.pos)) return NULL;
    ast *n = NULL;
    int commas;
    if (t.kind == T_LB) {
        n = parse_items(p, t, T_RB, &commas);
    } else if (t.kind == T_LP) {
        /* a tuple, `()`, `(5,)`, `(2, 4)`; else a value in parentheses, and a
         * number there may go on as arithmetic: `(1 + 2) * 3` */
        parser q = *p;
        n = parse_items(&q, t, T_RP, &commas);
        if (n && !commas && n->first) {
            ast *only = n->first;
            if (only->kind == AST_NUM) {
                n = parse_constant(p);
            } else {
                *p = q; /* (StepLR(2)): the value itself */
                n = only;
            }
        } else if (n) {
            *p = q;
        } else {
            *p = q; /* the error is in an item */
        }
    } else if (t.kind == T_STR) {
        take(p, t);
        n = new_node(p, AST_STR, t.pos, t.len);
        if (!n) return NULL;
        n->str_pos = t.pos + 1;
        n->str_len = t.len - 2;
    } else if (t.kind == T_NAME && (tok_is(p, t, "True") || tok_is(p, t, "False"))) {
        take(p, t);
        n = new_node(p, AST_BOOL, t.pos, t.len);
        if (!n) return NULL;
        n->num = p->s[t.pos] == 'T';
    } else if (t.kind == T_NAME && tok_is(p, t, "None")) {
        take(p, t);
        n = new_node(p, AST_NONE, t.pos, t.len);
    } else if (t.kind == T_NAME && tok_is(p, t, "lambda")) {
        take(p, t);
        token v = peek(p);
        if (v.kind != T_NAME) return unexpected(p, v, "the lambda's parameter name"), NULL;
        take(p, v);
        token c = peek(p);
        if (c.kind != T_COLON) return unexpected(p, c, "':'"), NULL;
        take(p, c);
        parser q = *p;
        q.has_var = 1;
        q.var = p->s + v.pos;
        q.var_len = v.len;
        char what[80];
        snprintf(what, sizeof what, "the lambda's parameter '%.*s'", v.len < 40 ? v.len : 40, p->s + v.pos);
        q.var_what = what;
        ast *body = parse_sum(&q);
        if (!body) return NULL;
        p->pos = q.pos;
        n = new_node(p, AST_LAMBDA, t.pos, body->pos + body->len - t.pos);
        if (!n) return NULL;
        extend(n, q.pos);
        n->str_pos = v.pos;
        n->str_len = v.len;
        n->first = body;
    } else if (t.kind == T_NAME) {
        parser q = *p;
        take(&q, t);
        token after = peek(&q);
        if (after.kind == T_BAD && p->s[after.pos] == '.') {
            /* torch.optim.lr_scheduler.StepLR(...): a module prefix before a class */
            token last = t;
            while (after.kind == T_BAD && p->s[after.pos] == '.') {
                take(&q, after);
                token nx = peek(&q);
                if (nx.kind != T_NAME) return unexpected(p, nx, "a name after '.'"), NULL;
                take(&q, nx);
                last = nx;
                after = peek(&q);
            }
            const expr_syntax *syn = p->syn ? p->syn : &sched_syntax;
            int plen = last.pos - t.pos, known = 0;
            for (int i = 0; syn->modules[i]; i++)
                if ((int)strlen(syn->modules[i]) == plen && !memcmp(p->s + t.pos, syn->modules[i], (size_t)plen))
                    known = 1;
            if (!known || after.kind != T_LP) {
                char msg[160];
                snprintf(msg, sizeof msg, "unknown module '%.*s' (write the class alone, e.g. %s)",
                         plen - 1 < 40 ? plen - 1 : 40, p->s + t.pos, syn->example);
                return perr(p, t.pos, plen - 1, "%s", msg), NULL;
            }
            p->pos = last.pos;
            t = last;
        }
        if (after.kind == T_LP && func_index(p, t) < 0) {
            take(p, t);
            n = parse_call(p, t);
        } else if (after.kind == T_COMMA || after.kind == T_RP || after.kind == T_RB || after.kind == T_EOF) {
            take(p, t);
            n = new_node(p, AST_NAME, t.pos, t.len);
        } else {
            n = parse_constant(p);
        }
    } else {
        n = parse_constant(p);
    }
    if (!n) return NULL;
    p->depth--;
    return n;
}

static int arena_init(expr_arena *a, const char *src, expr_error *e) {
    memset(a, 0, sizeof *a);
    size_t len = strlen(src);
    if (len > EXPR_MAX_LEN) {
        e->pos = EXPR_MAX_LEN;
        e->len = 1;
        snprintf(e->msg, sizeof e->msg, "expression is %zu characters long (at most %d)", len, EXPR_MAX_LEN);
        return -1;
    }
    a->src = src;
    a->src_len = (int)len;
    /* every node owns at least one token, and quoted lambdas are parsed once
     * more: twice the length is enough */
    a->cap_nodes = 2 * a->src_len + 16;
    a->nodes = calloc((size_t)a->cap_nodes, sizeof *a->nodes);
    if (!a->nodes) {
        e->pos = 0;
        e->len = 1;
        snprintf(e->msg, sizeof e->msg, "out of memory");
        return -1;
    }
    return 0;
}

void expr_arena_free(expr_arena *a) {
    free(a->nodes);
    a->nodes = NULL;
}

int expr_parse(expr_arena *a, const char *src, const expr_syntax *syn, ast **out, expr_error *e) {
    if (arena_init(a, src, e)) return -1;
    if (!syn) syn = &sched_syntax;
    parser p = {a, src, 0, a->src_len, 0, 0, 0, NULL, NULL, e, syn, NULL};
    token t = peek(&p);
    char what[128];
    snprintf(what, sizeof what, "%s such as %s", syn->kind, syn->example);
    if (t.kind != T_NAME) return unexpected(&p, t, what);
    ast *n = parse_value(&p);
    if (!n) return -1;
    if (n->kind != AST_CALL) {
        snprintf(what, sizeof what, "expected %s call such as %s", syn->kind, syn->example);
        return perr(&p, n->pos, n->len, "%s", what);
    }
    t = peek(&p);
    if (t.kind != T_EOF) return unexpected(&p, t, "the end of the expression");
    *out = n;
    return 0;
}

int expr_parse_arith(expr_arena *a, int pos, int len, const char *var, ast **out, expr_error *e) {
    return expr_parse_arith2(a, pos, len, var, NULL, out, e);
}

int expr_parse_arith2(expr_arena *a, int pos, int len, const char *var, const char *var2, ast **out,
                      expr_error *e) {
    char what[80];
    if (var2) snprintf(what, sizeof what, "'%s' and '%s'", var, var2);
    else snprintf(what, sizeof what, "'%s'", var);
    parser p = {a, a->src, pos, pos + len, 0, 1, (int)strlen(var), var, what, e, NULL, var2};
    token t = peek(&p);
    if (t.kind == T_EOF) return perr(&p, pos > 0 ? pos - 1 : 0, len + 2, "empty expression%s", NULL);
    ast *n = parse_sum(&p);
    if (!n) return -1;
    t = peek(&p);
    if (t.kind != T_EOF) return unexpected(&p, t, "an operator or the end of the expression");
    *out = n;
    return 0;
}

int expr_fail(lr_error *err, const char *src, int pos, int len, const char *msg) {
    return expr_fail_as(err, "sched", src, pos, len, msg);
}

int expr_fail_as(lr_error *err, const char *label, const char *src, int pos, int len, const char *msg) {
    int n = src ? (int)strlen(src) : 0;
    if (pos < 0) pos = 0;
    if (pos > n) pos = n;
    if (len < 1) len = 1;
    int start = 0, end = n;
    if (n > 100) {
        start = pos > 40 ? pos - 40 : 0;
        end = start + 100 < n ? start + 100 : n;
    }
    char line[128], caret[128];
    int k = 0;
    if (start > 0) k += snprintf(line + k, sizeof line - (size_t)k, "...");
    int col = k + (pos - start);
    for (int i = start; i < end; i++) {
        unsigned char c = (unsigned char)src[i];
        line[k++] = (c < 32 || c == 127) ? ' ' : (char)c;
    }
    if (end < n) k += snprintf(line + k, sizeof line - (size_t)k, "...");
    line[k] = '\0';
    int m = 0;
    for (int i = 0; i < col && m < 120; i++) caret[m++] = ' ';
    caret[m++] = '^';
    for (int i = 1; i < len && pos + i < end && m < 126; i++) caret[m++] = '~';
    caret[m] = '\0';
    return lr_fail(err, "%s: %s\n  %s\n  %s", label, msg, line, caret);
}
