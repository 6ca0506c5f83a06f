"""Python tooling for Lacuna's SEDD models (Score Entropy Discrete Diffusion,
Lou, Meng & Ermon, ICML 2024).

Modules:
  model     -- the DDiT score network (official state-dict layout)
  mdlm      -- MDLM (kuleshov-group/mdlm-owt layout): the same trunk, SUBS x0-posterior as a SEDD score
  graph     -- forward-process graphs (absorbing, uniform)
  noise     -- noise schedules (log-linear, geometric)
  losses    -- training losses: score entropy (r-form), MDLM weighted cross-entropy, AR next-token loss
  likelihood -- held-out ELBO bound (Monte Carlo estimators) and the AR baseline's NLL
  sampling  -- analytic (Tweedie tau-leaping) / Euler samplers and the final denoiser
  tokenizer -- byte-level BPE trainer / encoder writing Hugging Face tokenizer.json
  export    -- ONNX export + lacuna-model/1 manifest writing
"""
