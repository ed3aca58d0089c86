"""Word embeddings trained from scratch: Word2Vec (SGNS, CBOW), GloVe and FastText.

One module per method (``word2vec``, ``glove``, ``fasttext``); ``options`` holds what every method takes and
returns, ``methods`` the one entry point, ``train_embeddings``, ``io`` the word2vec text format and ``cli`` the
``python -m fromzero embed`` commands. Import each name from its module: this ``__init__`` imports nothing, so that
``python -m fromzero --help`` does not import torch.
"""
