"""The authors' forward pass, copied to check that exported networks run unchanged in it.

Copied from the reference code of Gaier & Ha (2019), "Weight Agnostic Neural Networks",
https://github.com/google/brain-tokyo-workshop (``WANNRelease/WANN``), licensed under the
Apache License, Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0):

- ``getNodeOrder``, ``act``, ``applyAct``, ``exportNet``, ``importNet`` from
  ``wann_src/ind.py``
  (https://github.com/google/brain-tokyo-workshop/blob/master/WANNRelease/WANN/wann_src/ind.py;
  the same functions live in ``ann.py`` of the repository's NEAT and WANNTool packages,
  https://github.com/google/brain-tokyo-workshop/blob/master/WANNRelease/WANNTool/ann.py);
- ``setWeights`` from ``Task`` in ``wann_src/task.py`` (a method there; a function here).

Changes: indentation (4 spaces instead of 2), ``self`` dropped from ``setWeights``, the
comments trimmed, ``getLayer`` (layers for the mutation operators and drawing, not on the
path from a file to the outputs) left out. Every statement of the functions is as in the
original, including its quirks (``act`` zeroes NaNs of the matrix it is given in place).

How the reference evaluates a saved WANN at one shared weight (``wann_test.py`` ->
``Task.getDistFitness`` -> ``Task.testInd``): ``wVec, aVec, wKey = importNet(file)``,
``wMat = setWeights(wVec, w)``, then ``act(wMat, aVec, nInput, nOutput, observation)``.
"""

# ruff: noqa: SIM108

import numpy as np


def getNodeOrder(nodeG, connG):
    """Builds connection matrix from genome through topological sorting.

    nodeG: [3 x n] rows id, type (1=input, 2=output, 3=hidden, 4=bias), activation.
    connG: [5 x n] rows innovation, source id, destination id, weight, enabled.
    Returns (Q, wMat): node order as indices and the ordered weight matrix, or (False, False)
    if a cycle is found.
    """
    conn = np.copy(connG)
    node = np.copy(nodeG)
    nIns = len(node[0, node[1, :] == 1]) + len(node[0, node[1, :] == 4])
    nOuts = len(node[0, node[1, :] == 2])

    # Create connection and initial weight matrices
    conn[3, conn[4, :] == 0] = np.nan  # disabled but still connected
    src = conn[1, :].astype(int)
    dest = conn[2, :].astype(int)

    lookup = node[0, :].astype(int)
    for i in range(len(lookup)):  # Can we vectorize this?
        src[np.where(src == lookup[i])] = i
        dest[np.where(dest == lookup[i])] = i

    wMat = np.zeros((np.shape(node)[1], np.shape(node)[1]))
    wMat[src, dest] = conn[3, :]
    connMat = wMat[nIns + nOuts :, nIns + nOuts :]
    connMat[connMat != 0] = 1

    # Topological Sort of Hidden Nodes
    edge_in = np.sum(connMat, axis=0)
    Q = np.where(edge_in == 0)[0]  # Start with nodes with no incoming connections
    for i in range(len(connMat)):
        if (len(Q) == 0) or (i >= len(Q)):
            Q = []
            return False, False  # Cycle found, can't sort
        edge_out = connMat[Q[i], :]
        edge_in = edge_in - edge_out  # Remove nodes' conns from total
        nextNodes = np.setdiff1d(np.where(edge_in == 0)[0], Q)
        Q = np.hstack((Q, nextNodes))

        if sum(edge_in) == 0:
            break

    # Add In and outs back and reorder wMat according to sort
    Q += nIns + nOuts
    Q = np.r_[lookup[:nIns], Q, lookup[nIns : nIns + nOuts]]
    wMat = wMat[np.ix_(Q, Q)]

    return Q, wMat


def act(weights, aVec, nInput, nOutput, inPattern):
    """Returns FFANN output given a single input pattern (or a [nSamples x nInput] matrix)."""
    # Turn weight vector into weight matrix
    if np.ndim(weights) < 2:
        nNodes = int(np.sqrt(np.shape(weights)[0]))
        wMat = np.reshape(weights, (nNodes, nNodes))
    else:
        nNodes = np.shape(weights)[0]
        wMat = weights
    wMat[np.isnan(wMat)] = 0

    # Vectorize input
    if np.ndim(inPattern) > 1:
        nSamples = np.shape(inPattern)[0]
    else:
        nSamples = 1

    # Run input pattern through ANN
    nodeAct = np.zeros((nSamples, nNodes))
    nodeAct[:, 0] = 1  # Bias activation
    nodeAct[:, 1 : nInput + 1] = inPattern

    # Propagate signal through hidden to output nodes
    iNode = nInput + 1
    for iNode in range(nInput + 1, nNodes):
        rawAct = np.dot(nodeAct, wMat[:, iNode]).squeeze()
        nodeAct[:, iNode] = applyAct(aVec[iNode], rawAct)
    output = nodeAct[:, -nOutput:]
    return output


def applyAct(actId, x):
    """Returns value after an activation function is applied (ids 1-11, see the original)."""
    if actId == 1:  # Linear
        value = x

    if actId == 2:  # Unsigned Step Function
        value = 1.0 * (x > 0.0)

    elif actId == 3:  # Sin
        value = np.sin(np.pi * x)

    elif actId == 4:  # Gaussian with mean 0 and sigma 1
        value = np.exp(-np.multiply(x, x) / 2.0)

    elif actId == 5:  # Hyperbolic Tangent (signed)
        value = np.tanh(x)

    elif actId == 6:  # Sigmoid (unsigned)
        value = (np.tanh(x / 2.0) + 1.0) / 2.0

    elif actId == 7:  # Inverse
        value = -x

    elif actId == 8:  # Absolute Value
        value = abs(x)

    elif actId == 9:  # Relu
        value = np.maximum(0, x)

    elif actId == 10:  # Cosine
        value = np.cos(np.pi * x)

    elif actId == 11:  # Squared
        value = x**2

    else:
        value = x

    return value


def setWeights(wVec, wVal):
    """Set single shared weight of network (``Task.setWeights``)."""
    # Create connection matrix
    wVec[np.isnan(wVec)] = 0
    dim = int(np.sqrt(np.shape(wVec)[0]))
    cMat = np.reshape(wVec, (dim, dim))
    cMat[cMat != 0] = 1.0

    # Assign value to all weights
    wMat = np.copy(cMat) * wVal
    return wMat


def exportNet(filename, wMat, aVec):
    indMat = np.c_[wMat, aVec]
    np.savetxt(filename, indMat, delimiter=",", fmt="%1.2e")


def importNet(fileName):
    ind = np.loadtxt(fileName, delimiter=",")
    wMat = ind[:, :-1]  # Weight Matrix
    aVec = ind[:, -1]  # Activation functions

    # Create weight key
    wVec = wMat.flatten()
    wVec[np.isnan(wVec)] = 0
    wKey = np.where(wVec != 0)[0]

    return wVec, aVec, wKey


# ----- not the reference's: how its code is driven from a file and from genes --------------


def run_file(path, n_inputs, n_outputs, weight, inputs):
    """The reference's outputs for a saved network at one shared weight (``wann_test.py``)."""
    wVec, aVec, _ = importNet(path)
    wMat = setWeights(np.copy(wVec), weight)
    return act(wMat, aVec, n_inputs, n_outputs, inputs)
