"""The inference image and what is made with it: resolving and building the image, running
it under Docker, pruning old builds, the pickle scan that reads what a model needs, and the
model artifact (model.tar.gz), which the image describes and proves."""
