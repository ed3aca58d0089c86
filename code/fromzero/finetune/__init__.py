"""Fine-tuning pretrained encoders (Part IV): text classification and named-entity recognition.

One module per idea, all of them feeding the book's one training loop, :func:`fromzero.train.fit`:

* ``checkpoints``: which checkpoint ``--model`` means, loading it with a task head, saving the result;
* ``freezing``: which pretrained parameters train (``none``, ``encoder``, ``top:N``);
* ``lora``: low-rank adapters through ``peft``, merged back into plain weights before saving;
* ``collate``: tokenising, aligning word labels with word pieces, padding batches;
* ``inference``: logits, pooled features and word-level tags from a model;
* ``metrics``: accuracy and macro-F1, entity-level precision, recall and F1;
* ``tasks``: the whole recipe (load, head, data, train, evaluate) that notebooks and the CLI share.

Import each name from its module (``from fromzero.finetune.tasks import ...``): this ``__init__`` imports
nothing, so that ``python -m fromzero --help`` does not import torch.
"""
