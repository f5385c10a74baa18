#!/usr/bin/env bash
cat VERSION
