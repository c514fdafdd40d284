"""Visualisation methods: attribution for the current image and activation maximisation.

``targets`` says what is explained (a class, a channel, one neuron), ``attribution`` how
the current input matters to it (saliency, gradient × input, DeconvNet, guided
backpropagation, Grad-CAM, guided Grad-CAM), ``maximize`` which input excites it most.
All of them run backward passes (:mod:`cnnlens.backward`) over the engine's own forward
passes, in CPython and in Pyodide alike.
"""
