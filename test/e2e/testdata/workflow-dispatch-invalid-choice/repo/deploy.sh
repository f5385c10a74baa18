#!/bin/sh
echo "deploying $1 to $2"
