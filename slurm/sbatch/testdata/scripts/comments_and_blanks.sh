#!/bin/bash

# hardware requirements
#SBATCH --time=23:00:00          # a maximum runtime for the job
#SBATCH --cpus-per-task=8        # 8 threads

#SBATCH --mem=24G#glued comment
   
	# an indented comment does not end the header
#SBATCH --partition=cpu    # optional
# #SBATCH --qos=debug        # commented out
##SBATCH --gres=gpu:1

python run.py
