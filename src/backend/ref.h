/* backend/ref.h: plain-C reference kernels over flat NCHW float arrays.
 *
 * These are the independent answer the tests compare oneDNN against, and the
 * `--backend ref` executor. Clarity first: loops as the definitions read.
 * Forward kernels overwrite their output; backward kernels accumulate (+=)
 * into dinp / dweight, so zero them first (ref_zero). Argument order:
 * outputs, inputs, weights, sizes. */
#ifndef LRLAB_BACKEND_REF_H
#define LRLAB_BACKEND_REF_H

void ref_zero(float *x, long n);

/* conv2d, no bias. out (B,OC,OH,OW), inp (B,C,H,W), w (OC,C,K,K);
 * OH = (H + 2*pad - K) / stride + 1. */
void ref_conv2d_forward(float *out, const float *inp, const float *w, int B, int C, int H, int W,
                        int OC, int K, int stride, int pad);
/* dinp may be NULL (first layer needs no input gradient). */
void ref_conv2d_backward(float *dinp, float *dw, const float *dout, const float *inp,
                         const float *w, int B, int C, int H, int W, int OC, int K, int stride,
                         int pad);

/* ReLU, out = max(x, 0); backward from the output: din += dout * (out > 0). */
void ref_relu_forward(float *out, const float *inp, long n);
void ref_relu_backward(float *dinp, const float *dout, const float *out, long n);

/* max-pool K x K, stride S, no padding; ties go to the first maximum in
 * row-major window order (PyTorch's rule). out (B,C,OH,OW). */
void ref_maxpool_forward(float *out, const float *inp, int B, int C, int H, int W, int K, int S);
void ref_maxpool_backward(float *dinp, const float *dout, const float *inp, int B, int C, int H,
                          int W, int K, int S);

/* linear, no bias: out (B,OUT) = inp (B,IN) . w (OUT,IN)^T. */
void ref_linear_forward(float *out, const float *inp, const float *w, int B, int IN, int OUT);
void ref_linear_backward(float *dinp, float *dw, const float *dout, const float *inp,
                         const float *w, int B, int IN, int OUT);

#endif
