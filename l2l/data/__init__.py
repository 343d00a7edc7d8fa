"""Real data, verified before use: MNIST (:mod:`~l2l.data.mnist`) and the Neural Art
photographs (:mod:`~l2l.data.photos`)."""
