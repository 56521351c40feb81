"""What the inference server and the seller tooling both need: content types, limits, names.

Pure standard library, so it can be imported inside the image and on the host alike.
"""
